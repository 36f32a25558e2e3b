"""Self-Ask with search (Press et al. 2022).

The model continues a few-shot prompt in the reference's format::

    Question: ...
    Are follow up questions needed here: Yes.
    Follow up: ...
    Intermediate answer: ...
    So the final answer is: ...

Generation stops before ``Intermediate answer:`` (as in the reference). Each follow-up question is
answered by a search and the reader prompt over the top ``k`` passages (one by default), and that
short answer is written as the intermediate answer, so it flows into the next follow-up. The knob
is ``max_follow_ups``; when it is reached, one short call continues with
``So the final answer is:``.
A reply with neither a follow-up nor a final answer is recovered by continuing with the
``Follow up:`` label (bounded: each try counts as a follow-up). ``reserve`` compute units are kept
back for the final call. On an exhausted budget the answer is that final call if it still fits,
else the latest intermediate answer.

Exemplars: the dev split's multi-hop examples, their resolved sub-questions as follow-ups and
sub-answers as intermediate answers.

Not here: the reader prompt itself (``forage.prompts.reader``), rendering (``forage.prompts``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from forage.core.errors import BudgetExhausted
from forage.llm.base import LLMRequest
from forage.prompts.exemplars import DevExample, ExemplarSet
from forage.prompts.parse import answer_after
from forage.prompts.reader import clean_answer, flat_reader_prompt
from forage.prompts.render import render
from forage.prompts.spec import Block, Chat, Generation, PromptSpec
from forage.runtime.base import Answer, Context, Generate, Search, Steps

NEEDED = "Are follow up questions needed here:"
FOLLOW_UP = "Follow up:"
INTERMEDIATE = "Intermediate answer:"
FINAL = "So the final answer is:"

CHAT_INSTRUCTION = (
    "Answer the question by asking simple follow up questions, one at a time. Each follow up is "
    "answered for you by a search. Use exactly the line format of the examples."
)

_FOLLOW = re.compile(r"^\s*follow\s*up\s*:\s*(.*)$", re.IGNORECASE)
_NEEDED_REPLY = re.compile(r"^\s*(yes|no)\b", re.IGNORECASE)


def chain_block(example: DevExample) -> Block:
    """A Self-Ask exemplar from a dev example's resolved steps, ending in the final answer."""
    rows = [f"Question: {example.question}", f"{NEEDED} Yes."]
    for s in example.resolved_steps():
        rows += [f"{FOLLOW_UP} {s.question}", f"{INTERMEDIATE} {s.answer}"]
    return Block(tuple(rows), FINAL, example.answer)


def exemplar_chain(example: DevExample) -> str:
    return chain_block(example).render()


@dataclass(frozen=True)
class Step:
    """A parsed continuation: the follow-up question and/or the final answer it contains."""

    follow_up: str | None = None
    final: str | None = None
    needed: str | None = None  # "Yes"/"No" when the reply answered the needed-question


def parse_continuation(text: str) -> Step:
    """Read the first follow-up or final-answer line of a reply (whichever comes first)."""
    needed = None
    for i, raw in enumerate(text.split("\n")):
        line = raw.strip()
        if not line:
            continue
        if i == 0 and (m := _NEEDED_REPLY.match(line)):
            needed = m.group(1).capitalize()
            rest = line[m.end():].lstrip(" .")
            if not rest:
                continue
            line = rest
        if (m := _FOLLOW.match(line)) and m.group(1).strip():
            return Step(follow_up=" ".join(m.group(1).split()), needed=needed)
        final = answer_after(line)
        if final:
            return Step(final=final, needed=needed)
    return Step(needed=needed)


def self_ask_prompt(
    question: str,
    transcript: str,
    examples: Sequence[DevExample],
    *,
    label: str | None = None,
    max_tokens: int = 40,
    seed: int | None = None,
) -> PromptSpec:
    """The continuation prompt. ``transcript`` holds the lines after the question (each ending in
    a newline, the first being the needed-answer); ``label`` forces the next line's label."""
    *rows, open_line = f"{NEEDED}{transcript}".split("\n")
    if label:
        ask = f"Continue with the line that starts with {label!r} only."
        stop: tuple[str, ...] = ("\n",)
    else:
        ask = f"Continue with the next line: '{FOLLOW_UP} ...' or '{FINAL} ...'."
        stop = (INTERMEDIATE, "\nQuestion:", "\n\n")
    return PromptSpec(
        instruction="",  # the reference prompt has none: the exemplars show the format
        shots=tuple(chain_block(e) for e in examples if e.steps),
        query=Block((f"Question: {question}", *rows), open_line + (label or "")),
        stop=stop,
        generation=Generation(max_tokens=max_tokens, seed=seed),
        chat=Chat(hint=CHAT_INSTRUCTION, ask=ask, show_cue=True,
                  stop=(INTERMEDIATE, "\nQuestion:")),
    )


@dataclass(frozen=True)
class SelfAsk:
    """Self-Ask with search. Knob: ``max_follow_ups``."""

    max_follow_ups: int = 3
    k: int = 1  # passages the reader sees per follow-up
    step_tokens: int = 40
    answer_tokens: int = 24
    reserve: float = 150.0  # compute units kept back for the final call
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "self_ask"

    def steps(self, ctx: Context) -> Steps:
        question = ctx.question.text
        examples = self.exemplars.multi_hop
        transcript = ""  # continues the line "Are follow up questions needed here:"
        intermediate = ""
        sources: list[str] = []
        label: str | None = None
        exhausted = False

        def request(label: str | None, max_tokens: int) -> LLMRequest:
            spec = self_ask_prompt(question, transcript, examples, label=label,
                                   max_tokens=max_tokens, seed=ctx.seed)
            return render(spec, ctx.profile)

        try:
            for turn in range(self.max_follow_ups):
                if ctx.budget.available < self.reserve:
                    break
                reply = yield Generate(request(label, self.step_tokens), label=f"step {turn + 1}")
                step = parse_continuation(f"{label}{reply.text}" if label else reply.text)
                if not transcript:
                    # The needed-line: the reference lets the model decide; a direct final
                    # answer means "No".
                    transcript = " No.\n" if step.final and not step.follow_up else " Yes.\n"
                if step.final is not None:
                    return self._answer(ctx, step.final, transcript, sources)
                if step.follow_up is None:
                    label = FOLLOW_UP  # recover: ask for the follow-up line itself
                    continue
                label = None
                hits = yield Search(step.follow_up, k=self.k)
                sources += [h.document.title for h in hits]
                intermediate = ""
                if hits:
                    spec = flat_reader_prompt(step.follow_up, hits,
                                              exemplars=self.exemplars.reader,
                                              max_tokens=self.answer_tokens, seed=ctx.seed)
                    read = yield Generate(render(spec, ctx.profile), label=f"read {turn + 1}")
                    intermediate = clean_answer(read.text)
                transcript += (
                    f"{FOLLOW_UP} {step.follow_up}\n{INTERMEDIATE} {intermediate or 'unknown'}\n"
                )
        except BudgetExhausted:
            exhausted = True
        if not transcript:
            transcript = " Yes.\n"
        try:
            reply = yield Generate(request(FINAL, self.answer_tokens), label="final")
            text = clean_answer(reply.text) or intermediate
        except BudgetExhausted:
            return self._answer(ctx, intermediate, transcript, sources, exhausted=True)
        return self._answer(ctx, text, transcript, sources, exhausted=exhausted)

    def _answer(self, ctx: Context, text: str, transcript: str, sources: Sequence[str],
                *, exhausted: bool = False) -> Answer:
        ctx.root.thought = f"{NEEDED}{transcript}"
        return Answer(text=text, task=ctx.root, sources=tuple(sources), exhausted=exhausted,
                      meta={"transcript": f"{NEEDED}{transcript}"})
