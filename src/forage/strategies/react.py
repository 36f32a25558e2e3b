"""Flat ReAct (Yao et al. 2023): Thought / Action / Observation, the whole transcript in
context.

Each iteration ``i`` generates ``Thought i:`` and ``Action i:`` in one call that stops before
``Observation`` (as the reference implementation does); when the reply has no action line, a second
short call continues with ``Action i:``. ``Search[query]`` runs a search and the top passage(s)
become ``Observation i``; ``Finish[answer]`` ends the run. Anything else is answered with an
``Invalid action`` observation the model can recover from. The knob is ``max_iterations``.

When the iteration cap, the transcript cap or the budget ends the loop without ``Finish``, the
reader answers from the latest observation's passages (one short call) if the budget still allows;
otherwise the answer is empty. ``reserve`` compute units are kept back for that call: no iteration
starts with less than that left.

Few-shot trajectories are rendered from the dev split's multi-hop examples: each step's resolved
sub-question is a ``Search``, its evidence sentence the ``Observation``, and the last a ``Finish``.

Not here: pruning finished steps from context (the hierarchy), reading several passages per step
jointly (``rag``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from forage.core.errors import BudgetExhausted
from forage.core.types import Hit
from forage.prompts.exemplars import DevExample, DevStep, ExemplarSet
from forage.prompts.reader import clean_answer, flat_reader_prompt, passage_text
from forage.prompts.render import render
from forage.prompts.spec import Block, Chat, Generation, PromptSpec, titled
from forage.runtime.base import Answer, Context, Generate, Search, Steps

log = logging.getLogger(__name__)

INSTRUCTION = (
    "Solve a question answering task with interleaving Thought, Action, Observation steps. "
    "Thought can reason about the current situation, and Action can be two types:\n"
    "(1) Search[query], which searches the documents and returns the best matching passage.\n"
    "(2) Finish[answer], which returns the answer and finishes the task.\n"
    "Here are some examples."
)

_ACTION_LABEL = re.compile(r"\n\s*Action\s*\d*\s*:", re.IGNORECASE)
_THOUGHT_LABEL = re.compile(r"^\s*Thought\s*\d*\s*:\s*", re.IGNORECASE)
_ACTION = re.compile(
    r"^\s*(?:Action\s*\d*\s*:\s*)?(search|finish)\s*\[(.*?)(?:\]|$)", re.IGNORECASE
)


@dataclass(frozen=True)
class Action:
    """A parsed action: ``kind`` is ``search``, ``finish`` or ``invalid`` (then ``arg`` is the
    raw line)."""

    kind: str
    arg: str


def parse_action(text: str) -> Action:
    """Parse ``Search[...]`` / ``Finish[...]`` from the first line of ``text``; tolerant of case,
    spacing, an ``Action n:`` prefix and a missing closing bracket."""
    line = text.strip().split("\n", 1)[0].strip()
    m = _ACTION.match(line)
    if not m:
        return Action("invalid", line)
    kind, arg = m.group(1).lower(), m.group(2).strip()
    if not arg:
        return Action("invalid", line)
    return Action(kind, arg)


def split_thought_action(text: str) -> tuple[str, str | None]:
    """A reply to ``Thought i:`` as (thought, action text or ``None`` when there is no action
    line)."""
    parts = _ACTION_LABEL.split(text, maxsplit=1)
    thought = " ".join(_THOUGHT_LABEL.sub("", parts[0]).split())
    if len(parts) == 1:
        # A reply that is only an action ("Search[x]") still counts as one.
        if parse_action(thought).kind != "invalid":
            return "", thought
        return thought, None
    return thought, parts[1].strip().split("\n", 1)[0]


def trajectory_block(example: DevExample) -> Block:
    """A ReAct trajectory rendered from a dev example's resolved steps, ending in ``Finish``."""
    lines = [f"Question: {example.question}"]
    steps = example.resolved_steps()
    if not steps:  # no decomposition: search each supporting title, as the original prompts do
        steps = tuple(
            DevStep(t, "", e, t) for t, e in zip(example.titles, example.evidence, strict=False)
        )
    previous = ""
    for i, s in enumerate(steps, start=1):
        if not s.answer:
            lead = "I need to search "
        elif previous:
            lead = f"So it is {previous}. Next I need to find out: "
        else:
            lead = "I need to find out: "
        lines += [
            f"Thought {i}: {lead}{s.question}",
            f"Action {i}: Search[{s.question}]",
            f"Observation {i}: {titled(s.title, s.evidence)}",
        ]
        previous = s.answer
    n = len(steps) + 1
    lines.append(f"Thought {n}: So it is {example.answer}, which answers the question.")
    return Block(tuple(lines), f"Action {n}:", f"Finish[{example.answer}]")


def exemplar_trajectory(example: DevExample) -> str:
    return trajectory_block(example).render()


def react_prompt(
    question: str,
    transcript: str,
    i: int,
    examples: Sequence[DevExample],
    *,
    thought: str | None = None,
    max_tokens: int = 64,
    seed: int | None = None,
) -> PromptSpec:
    """The prompt for iteration ``i``: ``Thought i`` (and its action), or, with ``thought`` given,
    the follow-up that asks for ``Action i`` alone. ``transcript`` holds the earlier iterations'
    lines, each ending in a newline."""
    lines = transcript.removesuffix("\n").split("\n") if transcript else []
    rows = (f"Question: {question}", *lines)
    if thought is None:
        query = Block(rows, f"Thought {i}:")
        stop: tuple[str, ...] = ("\nObservation", "\nQuestion:", "\n\n")
        ask = f"Write Thought {i} and Action {i}, one line each, and nothing else."
    else:
        query = Block((*rows, f"Thought {i}: {thought}"), f"Action {i}:")
        stop = ("\n",)
        ask = f"Write Action {i} only: Search[query] or Finish[answer]."
    return PromptSpec(
        instruction=INSTRUCTION,
        shots=tuple(trajectory_block(e) for e in examples),
        query=query,
        stop=stop,
        generation=Generation(max_tokens=max_tokens, seed=seed),
        chat=Chat(ask=ask, stop=("\nObservation",)),
    )


@dataclass(frozen=True)
class ReAct:
    """Flat ReAct. Knob: ``max_iterations``."""

    max_iterations: int = 4
    passages: int = 1  # passages per observation
    max_words: int = 80  # words kept of each observed passage
    step_tokens: int = 64  # Thought + Action
    action_tokens: int = 24
    answer_tokens: int = 24
    reserve: float = 150.0  # compute units kept back for the fallback answer
    max_transcript_chars: int = 6000  # the transcript stops growing here (context window guard)
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "react"

    def steps(self, ctx: Context) -> Steps:
        question = ctx.question.text
        examples = self.exemplars.multi_hop
        transcript = ""
        evidence: list[Hit] = []  # the latest observation's passages
        exhausted = False
        for i in range(1, self.max_iterations + 1):
            if ctx.budget.available < self.reserve or len(transcript) > self.max_transcript_chars:
                break
            try:
                spec = react_prompt(question, transcript, i, examples,
                                    max_tokens=self.step_tokens, seed=ctx.seed)
                reply = yield Generate(render(spec, ctx.profile), label=f"thought {i}")
                thought, action_text = split_thought_action(reply.text)
                if action_text is None:
                    spec = react_prompt(question, transcript, i, examples, thought=thought,
                                        max_tokens=self.action_tokens, seed=ctx.seed)
                    reply = yield Generate(render(spec, ctx.profile), label=f"action {i}")
                    action_text = reply.text.strip().split("\n", 1)[0]
                action = parse_action(action_text)
                if action.kind == "finish":
                    answer = clean_answer(action.arg)
                    transcript += f"Thought {i}: {thought}\nAction {i}: Finish[{action.arg}]\n"
                    return self._answer(ctx, answer, transcript, evidence, finished=True)
                if action.kind == "search":
                    hits = yield Search(action.arg, k=self.passages)
                    if hits:
                        evidence = list(hits)
                        observation = passage_text(hits, max_words=self.max_words)
                    else:
                        observation = f"No passage matches {action.arg}."
                    shown = f"Search[{action.arg}]"
                else:
                    observation = (
                        f"Invalid action: {action.arg or '(empty)'}. "
                        "Valid actions are Search[query] and Finish[answer]."
                    )
                    shown = action.arg
            except BudgetExhausted:
                exhausted = True
                break
            transcript += (
                f"Thought {i}: {thought}\nAction {i}: {shown}\nObservation {i}: {observation}\n"
            )
        # No Finish: read the latest evidence with the reader, if the budget allows.
        text = ""
        if evidence:
            try:
                spec = flat_reader_prompt(question, evidence, exemplars=self.exemplars.reader,
                                          max_tokens=self.answer_tokens, seed=ctx.seed)
                response = yield Generate(render(spec, ctx.profile), label="fallback read")
                text = clean_answer(response.text)
            except BudgetExhausted:
                exhausted = True
        return self._answer(ctx, text, transcript, evidence, finished=False, exhausted=exhausted)

    def _answer(
        self,
        ctx: Context,
        text: str,
        transcript: str,
        evidence: Sequence[Hit],
        *,
        finished: bool,
        exhausted: bool = False,
    ) -> Answer:
        ctx.root.thought = transcript
        return Answer(
            text=text,
            task=ctx.root,
            sources=tuple(h.document.title for h in evidence),
            exhausted=exhausted,
            meta={"finished": finished, "transcript": transcript},
        )
