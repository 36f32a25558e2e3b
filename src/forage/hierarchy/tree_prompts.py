"""Prompts of the hierarchical engine — planner, executor's reader, synthesiser — in both profiles.

Working memory is rendered here: every call sees the main question, the path of ancestor goals and
the conclusions of finished subtasks (``Memory``); the internals of finished subtasks (queries,
passages) appear only for the subtasks the buffer keeps verbatim. Few-shot material comes from
``ExemplarSet`` (a dev split) and is rendered in exactly the format the model must continue.

Not here: parsing (``plan``), control flow (``tree``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from forage.llm.base import LLMRequest, Message
from forage.prompts.exemplars import DevExample, ExemplarSet

PLAN_INSTRUCTION = (
    "Split each question into simple questions that one fact can answer. "
    "Refer to the answer of an earlier question as #1, #2, and so on."
)
READ_INSTRUCTION = "Answer each question with a short phrase taken from the passage."
SYNTH_INSTRUCTION = "Answer the main question using the facts."


@dataclass(frozen=True)
class Memory:
    """What a model call may see of the run: never the internals of pruned subtasks."""

    main_question: str
    path: tuple[str, ...] = ()  # ancestor goals below the main question
    facts: tuple[tuple[str, str], ...] = ()  # (finished subtask goal, conclusion)
    verbatim: tuple[str, ...] = field(default=())  # internals of buffered (unpruned) subtasks

    def known_line(self) -> str:
        if not self.facts:
            return "Known: nothing yet"
        return "Known: " + " ".join(f"{q} {_sentence(a)}" for q, a in self.facts)

    def lines(self) -> list[str]:
        out = [f"Main question: {self.main_question}"]
        out += [f"Goal: {g}" for g in self.path]
        out += list(self.verbatim)
        out.append(self.known_line())
        return out


def _sentence(answer: str) -> str:
    a = answer.strip()
    return a if a.endswith((".", "?", "!")) else a + "."


def _plan_example(e: DevExample) -> list[str]:
    lines = [f"Question: {e.question}"]
    lines += [f"{i}. {s.question}" for i, s in enumerate(e.steps, 1)]
    return lines


def planner_request(
    question: str, exemplars: ExemplarSet, *, profile: str, max_tokens: int = 96,
    temperature: float = 0.0, seed: int | None = None,
) -> LLMRequest:
    examples = [e for e in exemplars.multi_hop if e.steps]
    if profile == "chat":
        shots = "\n\n".join("\n".join(_plan_example(e)) for e in examples)
        return LLMRequest(
            messages=(
                Message(
                    role="system",
                    content=f"{PLAN_INSTRUCTION} Reply with JSON: "
                    '{"steps": ["first question", "second question using #1", ...]}. '
                    "Use a single step when the question needs one fact.\n\nExamples:\n" + shots,
                ),
                Message(role="user", content=f"Question: {question}"),
            ),
            max_tokens=max_tokens * 2, temperature=temperature, seed=seed,
        )
    blocks = [PLAN_INSTRUCTION, ""]
    for e in examples:
        blocks += [*_plan_example(e), ""]
    blocks += [f"Question: {question}", "1."]
    return LLMRequest(
        prompt="\n".join(blocks), max_tokens=max_tokens, temperature=temperature, seed=seed,
        stop=("\n\n", "Question:"),
    )


def _reader_shots(exemplars: ExemplarSet) -> list[list[str]]:
    """Reader exemplars in the memory format: steps of dev multi-hop examples (one that knows
    nothing yet, one that builds on an earlier fact), else plain reader exemplars."""
    shots: list[list[str]] = []
    for e in exemplars.multi_hop:
        steps = e.resolved_steps()
        if len(steps) < 2 or not all(s.evidence for s in steps):
            continue
        pick = len(shots) % 2  # alternate first and second steps across examples
        s = steps[pick]
        known = (
            "Known: nothing yet"
            if pick == 0
            else f"Known: {steps[0].question} {_sentence(steps[0].answer)}"
        )
        passage = f"{s.title}: {s.evidence}" if s.title else s.evidence
        shots.append([f"Main question: {e.question}", known, f"Passage: {passage}",
                      f"Question: {s.question}", f"Answer: {s.answer}"])
        if len(shots) == 2:
            return shots
    for r in exemplars.reader[: 2 - len(shots)]:
        shots.append([f"Main question: {r.question}", "Known: nothing yet",
                      f"Passage: {r.passage}", f"Question: {r.question}", f"Answer: {r.answer}"])
    return shots


def reader_request(
    sub_question: str, passage: str, memory: Memory, exemplars: ExemplarSet, *, profile: str,
    max_tokens: int = 24, logprobs: bool = False, seed: int | None = None,
) -> LLMRequest:
    shots = _reader_shots(exemplars)
    if profile == "chat":
        examples = "\n\n".join("\n".join(s) for s in shots)
        user = "\n".join([*memory.lines(), f"Passage: {passage}", f"Question: {sub_question}"])
        return LLMRequest(
            messages=(
                Message(role="system", content=f"{READ_INSTRUCTION} Reply with the answer only. "
                        f"If the passage does not say, reply: unknown.\n\nExamples:\n{examples}"),
                Message(role="user", content=user),
            ),
            max_tokens=max_tokens, logprobs=logprobs, seed=seed,
        )
    blocks = [READ_INSTRUCTION, ""]
    for s in shots:
        blocks += [*s, ""]
    blocks += [*memory.lines(), f"Passage: {passage}", f"Question: {sub_question}", "Answer:"]
    return LLMRequest(prompt="\n".join(blocks), max_tokens=max_tokens, logprobs=logprobs,
                      seed=seed, stop=("\n",))


def _synth_example(e: DevExample) -> list[str]:
    facts = " ".join(f"{s.question} {_sentence(s.answer)}" for s in e.resolved_steps())
    return [f"Main question: {e.question}", f"Facts: {facts}", f"Answer: {e.answer}"]


def synthesiser_request(
    question: str, facts: Sequence[tuple[str, str]], exemplars: ExemplarSet, *, profile: str,
    max_tokens: int = 24, seed: int | None = None,
) -> LLMRequest:
    examples = [e for e in exemplars.multi_hop if e.steps]
    fact_text = " ".join(f"{q} {_sentence(a)}" for q, a in facts) or "none"
    if profile == "chat":
        shots = "\n\n".join("\n".join(_synth_example(e)) for e in examples)
        return LLMRequest(
            messages=(
                Message(role="system", content=f"{SYNTH_INSTRUCTION} Reply with a short answer "
                        f"only.\n\nExamples:\n{shots}"),
                Message(role="user", content=f"Main question: {question}\nFacts: {fact_text}"),
            ),
            max_tokens=max_tokens, seed=seed,
        )
    blocks = [SYNTH_INSTRUCTION, ""]
    for e in examples:
        blocks += [*_synth_example(e), ""]
    blocks += [f"Main question: {question}", f"Facts: {fact_text}", "Answer:"]
    return LLMRequest(prompt="\n".join(blocks), max_tokens=max_tokens, seed=seed, stop=("\n",))


NEXT_INSTRUCTION = (
    "Decide the next simple question to look up, or write none when the known facts answer the "
    "main question."
)


def _next_examples(exemplars: ExemplarSet) -> list[list[str]]:
    """Every state of each dev example's chain: what was known, and which question came next."""
    blocks: list[list[str]] = []
    for e in exemplars.multi_hop:
        steps = e.resolved_steps()
        if not steps:
            continue
        for i in range(len(steps) + 1):
            known = Memory(e.question, facts=tuple((s.question, s.answer) for s in steps[:i]))
            nxt = steps[i].question if i < len(steps) else "none"
            blocks.append([f"Main question: {e.question}", known.known_line(),
                           f"Next question: {nxt}"])
    return blocks


def next_question_request(
    memory: Memory, exemplars: ExemplarSet, *, profile: str, max_tokens: int = 40,
    seed: int | None = None,
) -> LLMRequest:
    """Stepwise planning (Self-Ask style): the next sub-question given the conclusions so far."""
    shots = _next_examples(exemplars)
    state = [f"Main question: {memory.main_question}", *[f"Goal: {g}" for g in memory.path],
             *memory.verbatim, memory.known_line()]
    if profile == "chat":
        examples = "\n\n".join("\n".join(s) for s in shots)
        return LLMRequest(
            messages=(
                Message(role="system", content=f"{NEXT_INSTRUCTION} Reply with the question "
                        f"only.\n\nExamples:\n{examples}"),
                Message(role="user", content="\n".join(state)),
            ),
            max_tokens=max_tokens, seed=seed,
        )
    blocks = [NEXT_INSTRUCTION, ""]
    for s in shots:
        blocks += [*s, ""]
    blocks += [*state, "Next question:"]
    return LLMRequest(prompt="\n".join(blocks), max_tokens=max_tokens, seed=seed, stop=("\n",))
