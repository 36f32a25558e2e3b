"""The single-stream line format: what a line may say, which line may come next, exemplars, costs.

The thread strategy (``forage.hierarchy.thread``) has the model write its task tree one line at a
time into one KV stream::

    Question: <the question>
    Task 1: <sub-question>
    Search: <query>
    Result: <top passage>            (inserted by the runtime as input tokens)
    Conclusion 1: <short answer>
    Task 2: <sub-question that uses conclusion 1>
    ...
    Answer: <final answer>

This module holds the pure parts of that format: prefixes, a tolerant parser, the state machine of
which line kinds may follow (``allowed_next``), how a finished line is checked, how dev exemplars are
rendered (already pruned, or in full; the stream's start is a ``PromptSpec`` rendered by the prompt
layer, ``stream_prompt``), and the cost arithmetic the runtime uses to keep enough
budget for a forced answer.

Not here: running a model or a search, the KV stream, the loop (``thread``, ``forage.llm.line_stream``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from forage.core.budget import CostModel, Usage
from forage.prompts.exemplars import DevExample
from forage.prompts.render import preamble
from forage.prompts.spec import Block, PromptSpec, titled

Kind = Literal["task", "search", "result", "conclusion", "answer"]
GENERATED_KINDS: tuple[Kind, ...] = ("task", "search", "conclusion", "answer")
HEADER = "Answer each question by solving one task at a time."
STOP = "\n"
PREFIX_TOKENS = 6  # upper bound of the tokens of a line prefix such as "Conclusion 12:"


def prefix(kind: Kind, number: int = 0) -> str:
    """The text a line of ``kind`` starts with (``number`` is the task's, 1-based)."""
    if kind == "task":
        return f"Task {number}:"
    if kind == "conclusion":
        return f"Conclusion {number}:"
    return {"search": "Search:", "result": "Result:", "answer": "Answer:"}[kind]


@dataclass(frozen=True)
class Line:
    kind: Kind
    content: str
    number: int | None = None


_LINE = re.compile(
    r"^\s*(task|search|result|conclusion|answer)\s*(\d+)?\s*:\s*(.*?)\s*$", re.IGNORECASE
)


def parse_line(text: str) -> Line | None:
    """``Kind [n]: content`` -> ``Line``; anything else -> ``None``. Tolerant of case and spaces."""
    m = _LINE.match(text)
    if m is None:
        return None
    kind = m.group(1).lower()
    number = int(m.group(2)) if m.group(2) else None
    return Line(kind, m.group(3), number)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Position:
    """Where the loop stands, as far as the format is concerned."""

    concluded: int = 0  # tasks finished
    open_task: bool = False
    searches: int = 0  # searches in the open task
    wrap_up: bool = False  # caps or budget ran out: conclude the open task, then answer


def allowed_next(pos: Position, *, max_tasks: int, max_searches: int) -> tuple[Kind, ...]:
    """Line kinds the model may write next, in the order a constrained choice prefers on ties.

    A task must search at least once before it concludes (the exemplars never answer from memory);
    it may search again up to ``max_searches``. An answer needs at least one conclusion. In
    wrap-up, an open task is concluded first, then the answer is forced.
    """
    if pos.open_task:
        if pos.wrap_up or pos.searches >= max_searches:
            return ("conclusion",)
        if pos.searches == 0:
            return ("search",)
        return ("conclusion", "search")
    if pos.wrap_up or pos.concluded >= max_tasks:
        return ("answer",)
    if pos.concluded == 0:
        return ("task",)
    return ("task", "answer")


def check_line(kind: Kind, content: str, finish: str, *, max_words: int = 40) -> str | None:
    """Why a generated line is malformed, or ``None`` if it is fine."""
    if finish == "length":
        return "no line break within the token limit"
    if not content.strip():
        return "empty line"
    if len(content.split()) > max_words:
        return "too long"
    if parse_line(content) is not None and kind != "answer":
        return "a second line prefix inside the line"
    return None


def exemplar_block(example: DevExample, *, view: Literal["pruned", "full"] = "pruned") -> Block:
    """A dev example as a finished stream. ``pruned``: task and conclusion lines only, the shape a
    pruned stream has when the model continues it. ``full``: with each step's search (the
    sub-question as query) and its evidence sentence as the result."""
    lines = [f"Question: {example.question}"]
    steps = example.resolved_steps()
    for i, s in enumerate(steps, 1):
        lines.append(f"{prefix('task', i)} {s.question}")
        if view == "full":
            lines.append(f"{prefix('search')} {s.question}")
            lines.append(f"{prefix('result')} {titled(s.title, s.evidence)}")
        lines.append(f"{prefix('conclusion', i)} {s.answer}")
    if not steps:  # no decomposition: one task, the question itself
        lines += [f"{prefix('task', 1)} {example.question}", f"{prefix('conclusion', 1)} {example.answer}"]
    return Block(tuple(lines), prefix("answer"), example.answer)


def render_exemplar(example: DevExample, *, view: Literal["pruned", "full"] = "pruned") -> str:
    """``exemplar_block`` as the stream's text, ending in a line break."""
    return exemplar_block(example, view=view).render() + "\n"


def stream_prompt(
    examples: Sequence[DevExample], question: str = "", *,
    view: Literal["pruned", "full"] = "pruned",
) -> PromptSpec:
    """The stream as a prompt: the header and the exemplars, then the ``Question:`` line (the model
    writes the lines after it)."""
    return PromptSpec(
        instruction=HEADER,
        shots=tuple(exemplar_block(e, view=view) for e in examples),
        query=Block((f"Question: {question}",)),
        stop=(STOP,),
    )


def render_preamble(
    examples: Sequence[DevExample], *, view: Literal["pruned", "full"] = "pruned"
) -> str:
    """The start of every stream: a header line and the exemplars, each followed by a blank line."""
    return preamble(stream_prompt(examples, view=view))


def result_text(title: str, text: str, *, max_words: int) -> str:
    """The ``Result:`` line for a passage (one line, cut to ``max_words`` words)."""
    words = " ".join(text.split()).split(" ")
    return f"{prefix('result')} {titled(title, ' '.join(words[:max_words]))}\n"


NO_RESULT = f"{prefix('result')} nothing found\n"


# -- accounting -----------------------------------------------------------------------------------


def line_usage(cells_before: int, new_input: int, generated: int) -> Usage:
    """Usage of one line. The call reads the whole stream: the cells already in the KV cache are
    reused (``cached_prompt_tokens``), the input evaluated now is fresh; both are prompt tokens."""
    return Usage(
        prompt_tokens=cells_before + new_input,
        cached_prompt_tokens=cells_before,
        completion_tokens=generated,
        llm_calls=1,
    )


def wrap_up_cost(
    cost: CostModel, *, cells: int, task_open: bool, line_tokens: int, answer_tokens: int
) -> float:
    """An upper bound of what concluding the open task (if any) and answering costs from a stream
    of ``cells`` cells (each forced line evaluates a prefix of at most ``PREFIX_TOKENS``)."""
    total = 0.0
    if task_open:
        total += cost.cost(line_usage(cells, PREFIX_TOKENS, line_tokens))
        cells += PREFIX_TOKENS + line_tokens
    total += cost.cost(line_usage(cells, PREFIX_TOKENS, answer_tokens))
    return total


def step_cost(
    cost: CostModel, *, cells: int, new_input: int, line_tokens: int, may_search: bool
) -> float:
    """An upper bound of what one more regular line costs, with its search if it may be one."""
    return cost.cost(line_usage(cells, new_input + PREFIX_TOKENS, line_tokens)) + (
        cost.search_call if may_search else 0.0
    )


__all__ = [
    "GENERATED_KINDS",
    "HEADER",
    "Kind",
    "Line",
    "NO_RESULT",
    "PREFIX_TOKENS",
    "Position",
    "allowed_next",
    "check_line",
    "exemplar_block",
    "line_usage",
    "parse_line",
    "prefix",
    "render_exemplar",
    "render_preamble",
    "result_text",
    "step_cost",
    "stream_prompt",
    "wrap_up_cost",
]
