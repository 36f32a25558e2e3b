"""Single-stream mode (TIMRUN-style): the model writes its task tree into one KV stream, and the
internals of finished tasks leave the KV cache.

One llama.cpp KV sequence holds the exemplars, the question and every line the model writes
(``thread_format`` describes the format). The runtime generates one line at a time: it picks the
line's prefix among those the format allows (constrained by the model's logits, or parsed from a
freely written line), samples the rest up to the line break, and acts on it — a ``Search:`` line
runs the search tool and the top passage goes in as a ``Result:`` line of input tokens; a
``Conclusion k:`` line finishes task k, and its ``Search:``/``Result:`` lines are removed from the
KV cache (``TokenStream.remove``: later positions shift left), so later lines attend only to task
and conclusion lines. ``keep_last`` keeps the last k finished tasks verbatim; ``prune=False``
keeps everything, which makes pruning an experiment setting.

Exact pruning (``reencode=True``, the default): the cells *after* a removed span were computed
while the span was in context, so they still carry what it said. The runtime therefore also cuts
everything after the span and evaluates those tokens again (for ``keep_last=0`` only the conclusion
line, a few tokens), so the stream is exactly a fresh evaluation of the pruned tokens.
``reencode=False`` is the plain surgery: remove and shift, nothing re-evaluated.

Metering. The driver charges everything: the strategy yields one ``InStream`` step and works
through the driver's ``StreamLines`` handle. Each line is one LLM call (``lines.line``, metered by
``forage.llm.metered.write_line`` before anything is evaluated): the call reads the whole stream;
the cells this run already put in the KV cache are ``cached_prompt_tokens``, the tokens evaluated
as input now (exemplars, question, results, forced prefixes, re-encoded lines) are fresh prompt
tokens, and the sampled tokens are completion tokens. Each search is ``lines.search`` (charged and
traced as a ``Search`` step). Before each ordinary line the runtime checks that the budget, the
line cap and the context can still pay for concluding the open task and answering; if not, it
wraps up (forced conclusion, forced ``Answer:``). Malformed lines (cut off, empty, of a kind the
format does not allow there) are removed from the stream at once, are charged, count against
``max_lines``, and the retry samples at ``retry_temperature``.

Preamble reuse (``reuse_preamble=True``): the exemplar preamble is the same for every question, so
a new run keeps the cells an earlier run left in the KV cache if they hold exactly the preamble's
tokens. That saves wall time only: the run is charged as if it had evaluated the preamble itself
(fresh prompt tokens on its first line), so its cost and its decisions do not depend on what ran
before it. The driver holds the model for the run (``EmbeddedLLM.line_stream``).

Not here: the line format's pure rules (``thread_format``), the stream implementations
(``forage.llm.line_stream``), metering (the driver and ``forage.llm.metered``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from forage.core.budget import Budget
from forage.core.errors import BudgetExhausted, ConfigError, ContextOverflow
from forage.core.trace import Action, Task
from forage.core.types import Hit, Question
from forage.hierarchy.thread_format import (
    NO_RESULT,
    PREFIX_TOKENS,
    Kind,
    Position,
    allowed_next,
    check_line,
    parse_line,
    prefix,
    render_preamble,
    result_text,
    step_cost,
    wrap_up_cost,
)
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.reader import clean_answer
from forage.runtime.base import Answer, Context, InStream, Steps
from forage.runtime.driver import StreamLines

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thread:
    """Settings of the single-stream strategy (all caps are hard bounds)."""

    max_tasks: int = 6
    max_searches: int = 2  # per task
    max_lines: int = 40  # generated lines, malformed ones included
    prune: bool = True
    keep_last: int = 0  # finished tasks kept verbatim when pruning
    reencode: bool = True
    constrained: bool = True  # choose line prefixes from the logits; False: parse free lines
    exemplar_view: Literal["pruned", "full"] = "pruned"
    line_tokens: int = 32
    answer_tokens: int = 24
    wrap_tokens: int = 12  # tokens kept in reserve for each forced line (conclusion, answer)
    result_words: int = 60
    retry_temperature: float = 0.7
    reuse_preamble: bool = True  # keep the exemplar cells an earlier run left in the KV cache
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "thread"

    def __post_init__(self) -> None:
        for key in ("max_tasks", "max_searches", "max_lines", "line_tokens", "answer_tokens",
                    "wrap_tokens", "result_words"):  # fmt: skip
            if getattr(self, key) < 1:
                raise ConfigError(f"thread: {key} must be >= 1")
        if self.keep_last < 0:
            raise ConfigError("thread: keep_last must be >= 0")

    def steps(self, ctx: Context) -> Steps:
        """One ``InStream`` step: the run's stream lives on the backend's KV cache (an
        ``EmbeddedLLM``, held by the driver for the run); runs in a worker thread."""

        def write(lines: StreamLines) -> Answer:
            return _Run(self, ctx.question, lines, ctx.budget, ctx.seed, ctx.root).go()

        answer: Answer = yield InStream(write, keep_prefix=self.reuse_preamble)
        return answer


@dataclass
class _Segment:
    kind: str  # preamble, question, task, search, result, conclusion, answer
    tokens: list[Any]
    task: int | None = None  # the task whose internals this is (search, result)


class _Run:
    """One question's loop. Keeps the stream's segments so spans can be found after shifts."""

    def __init__(
        self, s: Thread, q: Question, stream: StreamLines, budget: Budget, seed: int, root: Task,
    ) -> None:
        self.s, self.q, self.stream, self.budget, self.seed = s, q, stream, budget, seed
        self.root = root
        self.inherited = 0  # cells an earlier run left (the preamble), not yet charged to this run
        self.segs: list[_Segment] = []  # evaluated, in stream order
        self.pending: list[_Segment] = []  # to evaluate at the start of the next line
        self.pos = Position()
        self.tasks: list[Task] = []
        self.conclusions: list[str] = []
        self.sources: list[str] = []
        self.lines = self.malformed = self.retries = 0
        self.evaluated = self.sampled = 0
        self.llm_seconds = 0.0
        self.wrap_reason = ""
        self.pruned_tasks: list[int] = []

    # -- the loop ----------------------------------------------------------------------------------

    def go(self) -> Answer:
        s = self.s
        preamble = render_preamble(self.s.exemplars.multi_hop, view=s.exemplar_view)
        pre = _Segment("preamble", self.stream.encode(preamble, bos=True))
        if self.s.reuse_preamble and self.stream.keep_prefix(pre.tokens):
            self.segs.append(pre)  # already in the KV cache: saves time, charged as fresh input
            self.inherited = len(pre.tokens)
        else:
            self.pending.append(pre)
        self.pending.append(_Segment("question", self.stream.encode(f"Question: {self.q.text}\n")))
        hard_stop = s.max_lines + 4
        while self.lines < hard_stop:
            self._maybe_wrap_up()
            kinds = allowed_next(self.pos, max_tasks=s.max_tasks, max_searches=s.max_searches)
            try:
                kind, content, why = self._line(kinds)
            except BudgetExhausted:  # recorded in the trace by the driver's handle
                return self._fallback("budget")
            except ContextOverflow:
                return self._fallback("context")
            if why is not None:
                self.malformed += 1
                self.retries += 1
                continue
            self.retries = 0
            if kind == "answer":
                return self._finish(clean_answer(content) or self._last(), exhausted=False)
            self._act(kind, content)
        return self._fallback("lines")

    def _maybe_wrap_up(self) -> None:
        if self.pos.wrap_up:
            return
        s = self.s
        cells, new_input = self._cells_and_input()
        cost = self.budget.cost_model
        wrap_lines = 2 if self.pos.open_task else 1
        reason = ""
        if self.lines + 1 + wrap_lines > s.max_lines:
            reason = "lines"
        else:
            grow = new_input + PREFIX_TOKENS + s.line_tokens
            need = step_cost(cost, cells=cells, new_input=new_input, line_tokens=s.line_tokens,
                             may_search=True) + wrap_up_cost(
                cost, cells=cells + grow + self._result_room(), task_open=True,
                line_tokens=s.wrap_tokens, answer_tokens=s.wrap_tokens)  # fmt: skip
            room = cells + grow + self._result_room() + 2 * (PREFIX_TOKENS + s.wrap_tokens)
            if need > self.budget.available:
                reason = "budget"
            elif room > self.stream.capacity:
                reason = "context"
        if reason:
            self.wrap_reason = reason
            self.pos = Position(self.pos.concluded, self.pos.open_task, self.pos.searches, True)
            log.debug("thread: wrapping up (%s)", reason)

    def _cells_and_input(self) -> tuple[int, int]:
        """What the next line reads, as charged: cells this run evaluated (cached) and input not
        yet paid for (pending segments, and cells inherited from an earlier run)."""
        inherited = self.inherited
        cells = len(self.stream) - inherited
        return cells, inherited + sum(len(p.tokens) for p in self.pending)

    def _result_room(self) -> int:
        return 2 * self.s.result_words + 8  # tokens a Result line may take (about 1.3 per word)

    # -- one line ----------------------------------------------------------------------------------

    def _line(self, kinds: tuple[Kind, ...]) -> tuple[Kind, str, str | None]:
        """Generate one line; returns (kind, content, why it is malformed or None)."""
        s, stream = self.s, self.stream
        number = self.pos.concluded + 1
        options = [prefix(k, number) for k in kinds]
        max_tokens = s.answer_tokens if kinds == ("answer",) else s.line_tokens
        cells = len(stream) - self.inherited
        temperature = s.retry_temperature if self.retries else 0.0
        spans = [p.tokens for p in self.pending]
        ml = stream.line(
            spans, max_tokens=max_tokens, options=options if s.constrained else None,
            unpaid_cells=self.inherited, temperature=temperature,
            seed=self.seed * 1000 + self.lines, label=f"{s.name}:{'/'.join(kinds)}",
        )  # fmt: skip
        self.segs.extend(self.pending)
        self.pending = []
        g, start = ml.generated, ml.start
        if ml.choice is not None:
            kind = kinds[ml.choice]
        self.inherited = 0
        self.lines += 1
        self.evaluated += ml.evaluated_input + g.extra_input + g.sampled
        self.sampled += g.sampled
        self.llm_seconds += ml.seconds
        line_tokens = stream.tokens[start:]
        content = g.content
        why: str | None
        if s.constrained:
            why = check_line(kind, content, g.finish)
        else:
            parsed = parse_line(content) if g.finish == "stop" else None
            if parsed is None or parsed.kind not in kinds:
                kind, why = kinds[0], "not a line the format allows here"
            else:
                kind, content = parsed.kind, parsed.content
                why = check_line(kind, content, g.finish)
        owner = self._owner()
        meta: dict[str, Any] = {"kind": kind, "prompt_tokens": ml.prompt_tokens,
                                "cached_prompt_tokens": cells, "cells": len(stream)}  # fmt: skip
        if why is not None:
            stream.remove(start, len(stream))  # a malformed line leaves the stream at once
            meta["malformed"] = why
            log.debug("thread: dropped a %s line (%s): %r", kind, why, content)
        else:
            self.segs.append(
                _Segment(kind, line_tokens, self.pos.concluded + 1 if kind == "search" else None)
            )
        owner.actions.append(
            Action("generate", options[kinds.index(kind)] if s.constrained else "", content,
                   cost=ml.entry.cost, tokens=ml.prompt_tokens + g.sampled, meta=meta)  # fmt: skip
        )
        return kind, content, why

    def _owner(self) -> Task:
        return self.tasks[-1] if self.pos.open_task and self.tasks else self.root

    # -- acting on a line --------------------------------------------------------------------------

    def _act(self, kind: Kind, content: str) -> None:
        pos = self.pos
        if kind == "task":
            self.tasks.append(self.root.add(content))
            self.pos = Position(pos.concluded, True, 0, pos.wrap_up)
        elif kind == "search":
            self.pos = Position(pos.concluded, True, pos.searches + 1, pos.wrap_up)
            self._search(content)
        elif kind == "conclusion":
            self.conclusions.append(content)
            if self.tasks and self.tasks[-1].status == "open":
                self.tasks[-1].finish(content)
            self.pos = Position(pos.concluded + 1, False, 0, pos.wrap_up)
            self._prune()

    def _search(self, query: str) -> None:
        number = self.pos.concluded + 1
        try:
            hits: list[Hit] = self.stream.search(query, task=self._owner(), k=1)
        except BudgetExhausted:  # recorded in the trace by the driver
            self._drop_last_line()
            self.pos = Position(self.pos.concluded, True, self.pos.searches - 1, True)
            self.wrap_reason = self.wrap_reason or "budget"
            return
        if hits:
            doc = hits[0].document
            text = result_text(doc.title, doc.text, max_words=self.s.result_words)
            self.sources.append(doc.title)
        else:
            text = NO_RESULT
        self.pending.append(_Segment("result", self.stream.encode(text), number))

    def _drop_last_line(self) -> None:
        last = self.segs.pop()
        self.stream.remove(len(self.stream) - len(last.tokens), len(self.stream))

    def _prune(self) -> None:
        """Remove the internals of finished tasks beyond the last ``keep_last``."""
        if not self.s.prune:
            return
        upto = self.pos.concluded - self.s.keep_last
        for number in range(1, upto + 1):
            if number in self.pruned_tasks:
                continue
            self._remove_internals(number)
            self.pruned_tasks.append(number)
            if number <= len(self.tasks):
                self.tasks[number - 1].prune()

    def _remove_internals(self, number: int) -> None:
        idx = [i for i, seg in enumerate(self.segs) if seg.task == number]
        # An internal not yet evaluated (a result still pending) simply never enters the stream.
        self.pending = [p for p in self.pending if p.task != number]
        if not idx:
            return
        first, last = idx[0], idx[-1]
        if idx != list(range(first, last + 1)):
            raise AssertionError("a task's internals must be contiguous in the stream")
        start = sum(len(seg.tokens) for seg in self.segs[:first])
        end = start + sum(len(seg.tokens) for seg in self.segs[first : last + 1])
        tail = self.segs[last + 1 :]
        if self.s.reencode and tail:
            # Cut everything from the span on; the tail is evaluated again at the next line.
            self.stream.remove(start, len(self.stream))
            self.segs = self.segs[:first]
            self.pending = tail + self.pending
        else:
            self.stream.remove(start, end)
            del self.segs[first : last + 1]

    # -- endings -----------------------------------------------------------------------------------

    def _last(self) -> str:
        return self.conclusions[-1] if self.conclusions else ""

    def _fallback(self, reason: str) -> Answer:
        """No answer line could be written: answer with the last conclusion (what we have)."""
        self.wrap_reason = self.wrap_reason or reason
        return self._finish(self._last(), exhausted=True)

    def _finish(self, text: str, *, exhausted: bool) -> Answer:
        for t in self.tasks:
            if t.status == "open":
                t.status = "exhausted" if exhausted else "failed"
        self.root.finish(text, status="exhausted" if exhausted else "done")
        meta: dict[str, Any] = {
            "strategy": self.s.name,
            "prune": self.s.prune,
            "keep_last": self.s.keep_last if self.s.prune else None,
            "reencode": self.s.reencode,
            "peak_kv_cells": self.stream.peak_cells,
            "final_kv_cells": len(self.stream),
            "evaluated_tokens": self.evaluated,
            "generated_tokens": self.sampled,
            "llm_seconds": self.llm_seconds,
            "tokens_per_s": self.evaluated / self.llm_seconds if self.llm_seconds > 0 else 0.0,
            "lines": self.lines,
            "malformed_lines": self.malformed,
            "tasks": len(self.tasks),
            "pruned_tasks": list(self.pruned_tasks),
            "wrapped_up": self.wrap_reason or None,
            "ledger": self.budget.ledger.summary(),
        }
        return Answer(
            text=text, task=self.root, sources=tuple(dict.fromkeys(self.sources)),
            exhausted=exhausted, meta=meta,
        )  # fmt: skip


__all__ = ["Thread"]
