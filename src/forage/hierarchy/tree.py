"""The hierarchical engine: a planner decides, executors search and read, a synthesiser answers.

1. **Plan.** The model splits the question into sub-questions; ``#k`` refers to the answer of step
   k, so the plan is a DAG. A malformed or empty plan becomes a single step: the question itself.
2. **Execute.** Steps whose dependencies are concluded run concurrently (``gather``). Each gets a
   child budget — an equal share of what is available after a reserve for synthesis — and an
   executor: search the resolved sub-question, read one passage at a time (up to ``attempts``),
   and stop as soon as an answer is confident (its support in the passage times its token
   probability). A sub-question that stays uncertain is split again by the planner (up to
   ``max_depth``). What a subtask does not spend goes to the least confident sibling still running
   in the same batch of concurrent steps (``plan.refund_target``; its child budget is topped up),
   else back to the parent, where it enlarges the shares of later steps.
3. **Re-plan.** When a step stays uncertain, the planner samples another plan (up to
   ``max_replans``); conclusions already found are reused; the plan whose weakest step is most
   confident wins.
4. **Synthesise** from the conclusions only, never from raw transcripts.
5. **Forget.** A finished subtask leaves only its conclusion in working memory: its queries and
   passages never reach a later prompt, unless the ``buffer`` keeps the last k finished subtasks
   verbatim (k = 0, 1, 2, ..., or -1 for all), which makes pruning an experiment setting.

**When to stop reading** (``marginal_stop``; off by default until measured, on in ``tree_marginal``): besides stopping at a confident answer,
an executor stops reading passages for its sub-question when the last passage's confidence gain
per compute unit falls below the run's average rate so far (all confidence gained by reading in
this run, per unit spent on its searches and reads) — the marginal value theorem of foraging:
leave a patch when its yield drops below what the habitat gives on average
(``plan.worth_another_passage``; a run that has gained nothing yet keeps reading).

The budget knob is ``attempts``. Per run, ``Answer.meta`` records the plan(s), peak context tokens
and total prompt tokens. Not here: prompts and their parsers (``tree_prompts``), pure arithmetic
(``plan``), the single-stream KV runtime (``thread``).
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from forage.core.budget import Budget
from forage.core.budget_rules import budget_of
from forage.core.errors import BudgetExhausted
from forage.core.trace import Task
from forage.hierarchy.plan import (
    PlanStep,
    confidence,
    plan_from_questions,
    ready_steps,
    refund_target,
    resolve,
    share,
    worth_another_passage,
)
from forage.hierarchy.tree_prompts import (
    Memory,
    memory_reader_prompt,
    next_question_prompt,
    parse_next_question,
    parse_plan,
    parse_reader_answer,
    planner_prompt,
    synthesiser_prompt,
)
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.parse import clean_answer
from forage.prompts.render import render
from forage.prompts.spec import titled
from forage.runtime.base import Answer, Context, Generate, Search, Step, Steps
from forage.runtime.combinators import gather

log = logging.getLogger(__name__)

Gen = Generator[Step, Any, Any]
TOP_ALTERNATIVES = 5  # first-position alternatives the reader asks for (P("unknown"))


@dataclass(frozen=True)
class Tree:
    attempts: int = 2  # passages an executor may read for one sub-question
    buffer: int = 0  # finished subtasks kept verbatim in memory; -1 keeps all
    max_steps: int = 6
    max_depth: int = 2  # levels of planning (1 = never split a sub-question again)
    max_replans: int = 1
    # "dag": the whole plan up front; "stepwise": one step at a time; "oracle": the question's gold
    # decomposition when it has one — an ablation that isolates executors and memory from the
    # planner, never a way to answer unseen questions.
    planning: str = "dag"
    threshold: float = 0.5  # confidence at which an executor stops reading
    synth_reserve: float = 150.0  # compute units kept back for each synthesis
    use_logprobs: bool = True
    # Adaptive allocation: first read for the whole question as one step, and plan only when that
    # answer is not confident — easy questions cost about one retrieval, hard ones get the tree.
    direct_first: bool = True
    # False: read for the whole question only (up to ``attempts`` passages), never plan -- the
    # cheap rungs of an allocation ladder.
    plan: bool = True
    # What earlier rungs of an allocation ladder found for this question (``Prior``): its reading
    # is kept, its passages are not read again, its sub-question conclusions are reused.
    prior: Prior | None = None
    # Stop reading a sub-question when one more passage is expected to gain less than the run's
    # average rate so far (off by default until measured: see docs/LOG.md).
    marginal_stop: bool = False
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "tree"

    def steps(self, ctx: Context) -> Steps:
        run = _Run(self, ctx)
        question = ctx.question.text
        prior = self.prior or Prior()
        run.memo.update({q.strip().lower(): _Outcome(a, c) for q, a, c in prior.memo})
        direct = _Outcome(prior.answer, prior.confidence)
        if (self.direct_first or not self.plan) and self.planning != "oracle":
            first = ctx.root.add(question)
            first.thought = "try the whole question as one step"
            if prior.read:
                first.thought += (f" (kept an earlier reading of {len(prior.read)} passage(s): "
                                  f"{prior.answer or 'no answer'}, confidence {prior.confidence:.2f})")
            if not prior.read or (len(prior.read) < self.attempts
                                  and direct.confidence < self.threshold):
                more = yield from run.read(question, first, (), (), skip=frozenset(prior.read))
                run.read_whole = list(run.last_read)
                if more.answer and (more.confidence > direct.confidence or not direct.answer):
                    direct = more
            run._finish(first, direct)
            if direct.confidence >= self.threshold or run.exhausted or not self.plan:
                return Answer(text=direct.answer, task=ctx.root, confidence=direct.confidence,
                              exhausted=run.exhausted and not direct.answer,
                              meta={"plans": [], "peak_context_tokens": _peak_prompt_tokens(ctx.root),
                                    "buffer": self.buffer, "direct": True,
                                    **run.carried(prior)})
        text, conf = yield from run.solve(question, ctx.root, (), (), depth=1)
        if not text and direct.answer:  # planning found nothing: keep the direct reading
            text, conf = direct.answer, direct.confidence
        ctx.root.thought = "plan: " + " | ".join(run.plans[0]) if run.plans else ""
        return Answer(
            text=text,
            task=ctx.root,
            confidence=conf,
            exhausted=run.exhausted and not text,
            meta={
                "plans": run.plans,
                "peak_context_tokens": _peak_prompt_tokens(ctx.root),
                "buffer": self.buffer,
                "direct": False,
                **run.carried(prior),
            },
        )


@dataclass(frozen=True)
class Prior:
    """What earlier runs on this question found (an allocation ladder's lower rungs), so a tree
    started higher up pays for none of it again: the whole question's best ``answer`` and
    ``confidence``, the passages already ``read`` for it (titles), sub-question conclusions
    (``memo``: question, answer, confidence) and how many top-level ``plans`` were made (a new
    plan is a re-plan). ``Prior.from_meta`` reads one back from a tree answer's ``meta``."""

    answer: str = ""
    confidence: float = 0.0
    read: tuple[str, ...] = ()
    memo: tuple[tuple[str, str, float], ...] = ()
    plans: int = 0

    @classmethod
    def from_meta(cls, answer: str, confidence: float, meta: dict[str, Any]) -> Prior:
        carried = meta.get("carried") or {}
        return cls(answer, confidence, tuple(carried.get("read", ())),
                   tuple((q, a, float(c)) for q, a, c in carried.get("memo", ())),
                   int(carried.get("plans", 0)))


@dataclass
class _Outcome:
    answer: str
    confidence: float


class _Run:
    """The state of one run: settings, context, plans made, memoised conclusions."""

    def __init__(self, settings: Tree, ctx: Context) -> None:
        self.s = settings
        self.ctx = ctx
        self.plans: list[list[str]] = []
        self.memo: dict[str, _Outcome] = {}
        self.internals: dict[int, list[str]] = {}  # id(task) -> its queries and passages
        self.finished: list[Task] = []  # finished subtasks, in order
        self.exhausted = False
        self.read_gain = self.read_cost = 0.0  # confidence gained by reading, units spent on it
        self.progress: dict[int, float] = {}  # id(task) -> best confidence it has read so far
        self.read_whole: list[str] = []  # passages read for the whole question (titles)
        self.last_read: list[str] = []  # passages the last ``read`` read (titles)

    def carried(self, prior: Prior) -> dict[str, Any]:
        """What a later run on this question can start from (``Prior.from_meta`` reads it)."""
        return {"carried": {
            "read": [*prior.read, *self.read_whole],
            "memo": [[q, o.answer, o.confidence] for q, o in self.memo.items() if o.answer],
            "plans": prior.plans + len(self.plans),
        }}

    @property
    def logprobs(self) -> bool:
        return self.s.use_logprobs and self.ctx.capabilities.supports_logprobs

    @property
    def top_logprobs(self) -> int:
        """Alternatives per position for the reader: its P("unknown") is part of confidence."""
        return TOP_ALTERNATIVES if (self.logprobs
                                    and self.ctx.capabilities.supports_top_logprobs) else 0

    # -- working memory ------------------------------------------------------------------------

    def _finish(self, task: Task, outcome: _Outcome) -> None:
        ok = outcome.confidence >= self.s.threshold
        task.finish(outcome.answer, confidence=outcome.confidence, status="done" if ok else "failed")
        self.finished.append(task)
        keep = self.s.buffer
        window = self.finished if keep < 0 else self.finished[len(self.finished) - keep :] if keep else []
        for t in self.finished:
            if t not in window and not t.pruned:
                t.prune()

    def memory(self, path: tuple[str, ...], facts: tuple[tuple[str, str], ...]) -> Memory:
        verbatim: list[str] = []
        for t in self.finished:
            if not t.pruned:
                verbatim += self.internals.get(id(t), [])
        return Memory(self.ctx.question.text, path, facts, tuple(verbatim))

    # -- planning ------------------------------------------------------------------------------

    def plan(self, goal: str, task: Task, *, attempt: int) -> Gen:
        gold = self.ctx.question.decomposition
        if self.s.planning == "oracle" and gold and goal == self.ctx.question.text and attempt == 0:
            return plan_from_questions(gold, max_steps=self.s.max_steps)
        request = render(planner_prompt(
            goal, self.s.exemplars, temperature=0.0 if attempt == 0 else 0.7,
            seed=self.ctx.seed + attempt,
        ), self.ctx.profile)
        try:
            response = yield Generate(request, task=task, label="plan")
        except BudgetExhausted:
            self.exhausted = True
            return [PlanStep(1, goal)]
        steps = parse_plan(response.text, self.ctx.profile, max_steps=self.s.max_steps)
        if not steps:
            log.debug("unusable plan %r; answering %r as one step", response.text, goal)
            steps = [PlanStep(1, goal)]
        return steps

    # -- solving a goal: plan, execute, (re-plan), synthesise -------------------------------------

    def solve(
        self, goal: str, task: Task, path: tuple[str, ...], facts: tuple[tuple[str, str], ...],
        *, depth: int,
    ) -> Gen:
        if self.s.planning == "stepwise":
            return (yield from self.solve_stepwise(goal, task, path, facts, depth=depth))
        return (yield from self.solve_dag(goal, task, path, facts, depth=depth))

    def solve_stepwise(
        self, goal: str, task: Task, path: tuple[str, ...], facts: tuple[tuple[str, str], ...],
        *, depth: int,
    ) -> Gen:
        """Plan one step at a time, each conditioned on the conclusions so far (Self-Ask style)."""
        found: list[tuple[str, _Outcome]] = []
        asked: set[str] = set()
        parent = budget_of(task, self.ctx.budget)
        for i in range(self.s.max_steps):
            known = facts + tuple((q, o.answer) for q, o in found)
            memory = self.memory(path if depth == 1 else (*path, goal), known)
            request = render(next_question_prompt(memory, self.s.exemplars, seed=self.ctx.seed),
                             self.ctx.profile)
            try:
                response = yield Generate(request, task=task, label="plan")
            except BudgetExhausted:
                self.exhausted = True
                break
            question = parse_next_question(response.text)
            if not question or question.lower() in asked:
                break
            asked.add(question.lower())
            if depth == 1:
                if not self.plans:
                    self.plans.append([])
                self.plans[0].append(question)
            # Unknown length: each step gets half of what is left after the synthesis reserve.
            sub = task.add(question, _carve(parent, share(parent.available, 2, self.s.synth_reserve)))
            outcome = yield from self.execute(question, sub, path, known, depth=depth)
            if sub.budget is not None:
                sub.budget.close()
            if outcome.answer:
                found.append((question, outcome))
            if self.exhausted:
                break
        if not found:
            return "", 0.0
        weakest = min(o.confidence for _, o in found)
        if len(found) == 1:
            return found[0][1].answer, weakest
        text = yield from self.synthesise(goal, [(q, o.answer) for q, o in found], task)
        return text, weakest

    def solve_dag(
        self, goal: str, task: Task, path: tuple[str, ...], facts: tuple[tuple[str, str], ...],
        *, depth: int,
    ) -> Gen:
        best: tuple[float, list[tuple[str, str]]] | None = None
        replans = self.s.max_replans if depth == 1 else 0
        made = self.s.prior.plans if depth == 1 and self.s.prior else 0  # a new plan is a re-plan
        for attempt in range(made, made + replans + 1):
            if attempt > made and not self._can_afford(task, 2 * self.s.synth_reserve):
                break
            plan = yield from self.plan(goal, task, attempt=attempt)
            if depth == 1:
                self.plans.append([s.question for s in plan])
            elif len(plan) < 2:
                return "", 0.0  # the planner could not split this sub-question further
            concluded = yield from self.execute_plan(plan, task, path, facts, depth=depth)
            weakest = min((o.confidence for _, o in concluded), default=0.0)
            if best is None or weakest > best[0]:
                best = (weakest, [(q, o.answer) for q, o in concluded])
            if weakest >= self.s.threshold or self.exhausted:
                break
        assert best is not None
        weakest, conclusions = best
        if not conclusions:
            return "", 0.0
        if len(conclusions) == 1:
            return conclusions[0][1], weakest
        text = yield from self.synthesise(goal, conclusions, task)
        return text, weakest

    def execute_plan(
        self, plan: list[PlanStep], task: Task, path: tuple[str, ...],
        facts: tuple[tuple[str, str], ...], *, depth: int,
    ) -> Gen:
        conclusions: dict[int, str] = {}
        outcomes: dict[int, tuple[str, _Outcome]] = {}
        started: set[int] = set()
        while len(started) < len(plan):
            ready = ready_steps(plan, set(conclusions), started)
            if not ready:  # a dependency failed without any answer: give up on the rest
                break
            started.update(s.index for s in ready)
            pending = len(plan) - len(conclusions)
            known = facts + tuple((q, o.answer) for q, o in (outcomes[i] for i in sorted(outcomes)))
            parent = budget_of(task, self.ctx.budget)
            units = share(parent.available, pending, self.s.synth_reserve)  # same for the batch
            subs = [task.add(resolve(s, conclusions), _carve(parent, units)) for s in ready]
            running = dict(enumerate(subs))

            def run_one(i: int, sub: Task) -> Gen:
                outcome = yield from self.execute(sub.goal, sub, path, known, depth=depth)
                del running[i]
                # The refund goes to the least confident sibling still running, else the parent.
                refund = sub.budget.close() if sub.budget is not None else 0.0
                to = refund_target({j: self.progress.get(id(t), 0.0) for j, t in running.items()},
                                   self.s.threshold)
                target = running[to].budget if to is not None else None
                if refund > 0 and target is not None:
                    moved = target.top_up(refund)
                    log.debug("refund %.1f units from %r to %r", moved, sub.goal, running[to].goal)
                return outcome

            results = yield from gather([run_one(i, sub) for i, sub in enumerate(subs)])
            for s, sub, outcome in zip(ready, subs, results, strict=True):
                if sub.budget is not None:
                    sub.budget.close()
                if outcome.answer:
                    conclusions[s.index] = outcome.answer
                    outcomes[s.index] = (sub.goal, outcome)
        return [outcomes[i] for i in sorted(outcomes)]

    def _can_afford(self, task: Task, units: float) -> bool:
        return budget_of(task, self.ctx.budget).available >= units

    # -- executing one sub-question ------------------------------------------------------------

    def execute(
        self, question: str, task: Task, path: tuple[str, ...],
        facts: tuple[tuple[str, str], ...], *, depth: int,
    ) -> Gen:
        key = question.strip().lower()
        if key in self.memo:
            outcome = self.memo[key]
            task.thought = "answered earlier"
            self._finish(task, outcome)
            return outcome
        outcome = yield from self.read(question, task, path, facts)
        if outcome.confidence < self.s.threshold and depth < self.s.max_depth and not self.exhausted:
            text, conf = yield from self.solve(
                question, task, (*path, question), facts, depth=depth + 1
            )
            if conf > outcome.confidence and text:
                outcome = _Outcome(text, conf)
        self.memo[key] = outcome
        self._finish(task, outcome)
        return outcome

    def read(
        self, question: str, task: Task, path: tuple[str, ...],
        facts: tuple[tuple[str, str], ...], skip: frozenset[str] = frozenset(),
    ) -> Gen:
        best = _Outcome("", 0.0)
        self.last_read = []
        self.progress[id(task)] = 0.0
        notes = self.internals.setdefault(id(task), [])
        mark = len(task.actions)  # the driver records each step's action (and its cost) here
        try:
            hits = yield Search(question, k=self.s.attempts, task=task)
        except BudgetExhausted:
            self.exhausted = True
            return best
        self.read_cost += sum(a.cost for a in task.actions[mark:])
        notes.append(f"Search: {question}")
        memory = self.memory(path, facts)
        for hit in hits[: self.s.attempts]:
            if hit.document.title in skip:  # read by an earlier run on this question
                continue
            passage = titled(hit.document.title, hit.document.text)
            notes.append(f"Passage: {passage}")
            request = render(memory_reader_prompt(question, passage, memory, self.s.exemplars,
                                                  logprobs=self.logprobs,
                                                  top_logprobs=self.top_logprobs,
                                                  seed=self.ctx.seed),
                             self.ctx.profile)
            mark = len(task.actions)
            try:
                response = yield Generate(request, task=task, label="read")
            except BudgetExhausted:
                self.exhausted = True
                break
            self.last_read.append(hit.document.title)  # read: a later run need not read it again
            cost = sum(a.cost for a in task.actions[mark:])
            text = parse_reader_answer(response.text)
            choice = response.choices[0]
            conf = confidence(text, passage, choice.token_logprobs,
                              choice.top_logprobs[0] if choice.top_logprobs else None)
            gain = max(0.0, conf - best.confidence)
            if conf > best.confidence or not best.answer:
                best = _Outcome(text, conf)
            self.progress[id(task)] = best.confidence
            self.read_gain += gain
            self.read_cost += cost
            if conf >= self.s.threshold:
                break
            if self.s.marginal_stop and not worth_another_passage(
                gain, cost, self.read_gain, self.read_cost
            ):
                log.debug("%r: a passage gained %.3f for %.1f units, below the run's rate",
                          question, gain, cost)
                break
        return best

    def synthesise(self, goal: str, conclusions: list[tuple[str, str]], task: Task) -> Gen:
        spec = synthesiser_prompt(goal, conclusions, self.s.exemplars, seed=self.ctx.seed)
        request = render(spec, self.ctx.profile)
        try:
            response = yield Generate(request, task=task, label="synthesise")
        except BudgetExhausted:
            self.exhausted = True
            return conclusions[-1][1]  # the last conclusion is the best answer we have
        return clean_answer(response.text) or conclusions[-1][1]


def _carve(parent: Budget, units: float) -> Budget:
    """A child budget of ``units``, or of whatever is left when that is less."""
    return parent.split(min(units, max(parent.available, 0.0)))


def _peak_prompt_tokens(root: Task) -> int:
    peak = 0
    for t in root.walk():
        for a in t.actions:
            if a.kind == "generate":
                peak = max(peak, int(a.meta.get("prompt_tokens", 0)))
    return peak
