"""Prompts of the hierarchical engine — planner, stepwise planner, executor's reader, synthesiser.

Working memory is rendered here: every call sees the main question, the path of ancestor goals and
the conclusions of finished subtasks (``Memory``); the internals of finished subtasks (queries,
passages) appear only for the subtasks the buffer keeps verbatim. Few-shot material comes from
``ExemplarSet`` (a dev split) and is rendered in exactly the format the model must continue. Each
``*_prompt`` returns a spec (``forage.prompts.spec``) that ``forage.prompts.render`` renders, and
each has its ``parse_*`` beside it, reading the reply in that prompt's format: ``parse_plan`` (a
numbered list after the ``1.`` cue, or JSON for chat), ``parse_reader_answer`` (``unknown`` is no
answer), ``parse_next_question`` (``none`` is no question). The synthesiser's reply is a plain
short answer (``forage.prompts.parse.clean_answer``).

Not here: rendering (``forage.prompts.render``), plan arithmetic (``plan``), control flow
(``tree``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from forage.hierarchy.plan import ABSTAIN, PlanStep, plan_from_questions
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.parse import clean_answer
from forage.prompts.spec import Block, Chat, Generation, PromptSpec, titled

PLAN_INSTRUCTION = (
    "Split each question into simple questions that one fact can answer. "
    "Refer to the answer of an earlier question as #1, #2, and so on."
)
READ_INSTRUCTION = "Answer each question with a short phrase taken from the passage."
SYNTH_INSTRUCTION = "Answer the main question using the facts."
EXAMPLES = "Examples:"
NOTHING_KNOWN = "Known: nothing yet"


@dataclass(frozen=True)
class Memory:
    """What a model call may see of the run: never the internals of pruned subtasks."""

    main_question: str
    path: tuple[str, ...] = ()  # ancestor goals below the main question
    facts: tuple[tuple[str, str], ...] = ()  # (finished subtask goal, conclusion)
    verbatim: tuple[str, ...] = field(default=())  # internals of buffered (unpruned) subtasks

    def known_line(self) -> str:
        return f"Known: {_facts(self.facts)}" if self.facts else NOTHING_KNOWN

    def lines(self) -> tuple[str, ...]:
        return (f"Main question: {self.main_question}", *(f"Goal: {g}" for g in self.path),
                *self.verbatim, self.known_line())


def _sentence(answer: str) -> str:
    a = answer.strip()
    return a if a.endswith((".", "?", "!")) else a + "."


def _plan_block(question: str, steps: Sequence[str] = ()) -> Block:
    """``Question: ...`` and the numbered sub-questions; the model continues after ``1.``."""
    numbered = "\n".join(f"{i}. {q}" for i, q in enumerate(steps, 1))
    return Block((f"Question: {question}",), "1.", numbered.removeprefix("1. "))


def planner_prompt(
    question: str, exemplars: ExemplarSet, *, max_tokens: int = 96, temperature: float = 0.0,
    seed: int | None = None,
) -> PromptSpec:
    return PromptSpec(
        instruction=PLAN_INSTRUCTION,
        shots=tuple(_plan_block(e.question, [s.question for s in e.steps])
                    for e in exemplars.multi_hop if e.steps),
        query=_plan_block(question),
        stop=("\n\n", "Question:"),
        generation=Generation(max_tokens=max_tokens, temperature=temperature, seed=seed),
        chat=Chat(
            hint='Reply with JSON: {"steps": ["first question", "second question using #1", ...]}. '
            "Use a single step when the question needs one fact.",
            heading=EXAMPLES,
            max_tokens=max_tokens * 2,  # JSON takes more tokens than numbered lines
        ),
    )


_NUMBERED = re.compile(r"^\s*(\d+)\s*[.):]\s*(.+?)\s*$")


def parse_numbered_plan(text: str, *, max_steps: int = 8) -> list[PlanStep]:
    """Numbered lines (``1. ...``) up to the first line that is not one; duplicates dropped."""
    questions: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            if questions:
                break
            continue
        m = _NUMBERED.match(line)
        if not m:
            break
        q = m.group(2).strip()
        if q and q not in questions:
            questions.append(q)
    return plan_from_questions(questions, max_steps=max_steps)


def parse_json_plan(text: str, *, max_steps: int = 8) -> list[PlanStep]:
    """``{"steps": ["...", ...]}`` (or a bare list), tolerant of text around the JSON."""
    start, end = text.find("{"), text.rfind("}")
    candidates = [text[start : end + 1]] if 0 <= start < end else []
    lb, rb = text.find("["), text.rfind("]")
    if 0 <= lb < rb:
        candidates.append(text[lb : rb + 1])
    for raw in candidates:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            continue
        steps = data.get("steps") if isinstance(data, dict) else data
        if isinstance(steps, list):
            qs = [
                (s.get("question") if isinstance(s, dict) else s) for s in steps
            ]
            return plan_from_questions([q.strip() for q in qs if isinstance(q, str) and q.strip()],
                                       max_steps=max_steps)
    return parse_numbered_plan(text, max_steps=max_steps)


def parse_plan(text: str, profile: str, *, max_steps: int = 8) -> list[PlanStep]:
    """The plan in a reply to ``planner_prompt``: JSON for the chat profile; for completion, the
    numbered lines that continue the query's ``1.`` cue. Empty when the reply holds no plan."""
    if profile == "chat":
        return parse_json_plan(text, max_steps=max_steps)
    return parse_numbered_plan("1. " + text, max_steps=max_steps)


def _reader_block(lines: Sequence[str], passage: str, question: str, answer: str = "") -> Block:
    return Block((*lines, f"Passage: {passage}", f"Question: {question}"), "Answer:", answer)


def _reader_shots(exemplars: ExemplarSet) -> list[Block]:
    """Reader exemplars in the memory format: steps of dev multi-hop examples (one that knows
    nothing yet, one that builds on an earlier fact), else plain reader exemplars."""
    shots: list[Block] = []
    for e in exemplars.multi_hop:
        steps = e.resolved_steps()
        if len(steps) < 2 or not all(s.evidence for s in steps):
            continue
        pick = len(shots) % 2  # alternate first and second steps across examples
        s = steps[pick]
        known = Memory(e.question, facts=((steps[0].question, steps[0].answer),)[:pick])
        shots.append(_reader_block([f"Main question: {e.question}", known.known_line()],
                                   titled(s.title, s.evidence), s.question, s.answer))
        if len(shots) == 2:
            return shots
    for r in exemplars.reader[: 2 - len(shots)]:
        shots.append(_reader_block([f"Main question: {r.question}", NOTHING_KNOWN],
                                   r.passage, r.question, r.answer))
    return shots


def memory_reader_prompt(
    sub_question: str, passage: str, memory: Memory, exemplars: ExemplarSet, *,
    max_tokens: int = 24, logprobs: bool = False, top_logprobs: int = 0, seed: int | None = None,
) -> PromptSpec:
    """The tree executor's reader: answer ``sub_question`` from one ``passage`` with the run's
    working ``memory`` in view (main question, goals, known facts), or write ``unknown``; the
    reply is read by ``parse_reader_answer``. Its shots are in the same memory format. The flat
    strategies' reader sees only passages (``forage.prompts.reader.flat_reader_prompt``)."""
    return PromptSpec(
        instruction=READ_INSTRUCTION,
        shots=tuple(_reader_shots(exemplars)),
        query=_reader_block(memory.lines(), passage, sub_question),
        stop=("\n",),
        generation=Generation(max_tokens=max_tokens, logprobs=logprobs,
                              top_logprobs=top_logprobs if logprobs else 0, seed=seed),
        chat=Chat(hint="Reply with the answer only. If the passage does not say, reply: unknown.",
                  heading=EXAMPLES),
    )


def parse_reader_answer(text: str) -> str:
    """The answer in a reply to the reader prompt; empty when the reader abstains (``unknown``)."""
    answer = clean_answer(text)
    return "" if answer.lower() == ABSTAIN else answer


def _facts(facts: Sequence[tuple[str, str]]) -> str:
    return " ".join(f"{q} {_sentence(a)}" for q, a in facts)


def _synth_block(question: str, facts: str, answer: str = "") -> Block:
    return Block((f"Main question: {question}", f"Facts: {facts}"), "Answer:", answer)


def synthesiser_prompt(
    question: str, facts: Sequence[tuple[str, str]], exemplars: ExemplarSet, *,
    max_tokens: int = 24, seed: int | None = None,
) -> PromptSpec:
    shots = [
        _synth_block(e.question, _facts([(s.question, s.answer) for s in e.resolved_steps()]),
                     e.answer)
        for e in exemplars.multi_hop if e.steps
    ]
    return PromptSpec(
        instruction=SYNTH_INSTRUCTION,
        shots=tuple(shots),
        query=_synth_block(question, _facts(facts) or "none"),
        stop=("\n",),
        generation=Generation(max_tokens=max_tokens, seed=seed),
        chat=Chat(hint="Reply with a short answer only.", heading=EXAMPLES),
    )


NEXT_INSTRUCTION = (
    "Decide the next simple question to look up, or write none when the known facts answer the "
    "main question."
)


def _next_shots(exemplars: ExemplarSet) -> list[Block]:
    """Every state of each dev example's chain: what was known, and which question came next."""
    blocks: list[Block] = []
    for e in exemplars.multi_hop:
        steps = e.resolved_steps()
        if not steps:
            continue
        for i in range(len(steps) + 1):
            known = Memory(e.question, facts=tuple((s.question, s.answer) for s in steps[:i]))
            nxt = steps[i].question if i < len(steps) else "none"
            blocks.append(Block(known.lines(), "Next question:", nxt))
    return blocks


def next_question_prompt(
    memory: Memory, exemplars: ExemplarSet, *, max_tokens: int = 40, seed: int | None = None,
) -> PromptSpec:
    """Stepwise planning (Self-Ask style): the next sub-question given the conclusions so far."""
    return PromptSpec(
        instruction=NEXT_INSTRUCTION,
        shots=tuple(_next_shots(exemplars)),
        query=Block(memory.lines(), "Next question:"),
        stop=("\n",),
        generation=Generation(max_tokens=max_tokens, seed=seed),
        chat=Chat(hint="Reply with the question only.", heading=EXAMPLES),
    )


def parse_next_question(text: str) -> str:
    """The sub-question in a reply to ``next_question_prompt``; empty for ``none`` (the known
    facts answer the main question) or no reply."""
    question = clean_answer(text)
    return "" if question.lower().startswith("none") else question

