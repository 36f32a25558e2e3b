"""Training examples from a model's own reader calls, relabelled from gold support.

A bench run on *training* data (a training world, the shared training files) stores every request
it made in its call cache (``DIR/cache.sqlite``). The reader requests among them are the readings
the strategies really meet: the real BM25 passages, look-alike distractors, earlier-hop passages
read for the whole question. ``reader_calls(cache)`` finds them (completion prompts whose last
block is a reader query: ``Passage: ...``, ``Question: ...``, ``Answer:``: the tree's reader and
the flat reader RAG, Self-Ask and ReAct use); ``relabel(calls, records)`` labels each one from the
gold record it belongs to, never from the model's reply:

- the question is a record's question (reading first, RAG) or one of its resolved sub-questions
  (an executor, a follow-up): the wanted answer is the record's answer or that hop's;
- the passage line contains the wanted answer *and* names a supporting passage of it (its title):
  the answer; it does not contain the answer: ``unknown``; it contains the answer only in passages
  that do not support it: left out (the label would be a guess);
- a question that matches no training record (a planner's own wording, an evaluation question)
  is left out, and ``forage.train.guard`` checks every example again, as for the mixture.

The prompt is kept byte for byte (it is an inference request); the completion is the label
followed by the reader's stop ("\\n"), as ``render_example`` writes it.

Not here: building the rest of the mixture (``mixture``), running the bench that fills the cache.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from forage.core.errors import DataError
from forage.core.text import normalize_answer
from forage.prompts.spec import continue_text
from forage.train.examples import Example, _resolved
from forage.train.gold import Gold
from forage.train.guard import Guard

FORMAT = "calls"
ABSTAIN = "unknown"


@dataclass(frozen=True)
class ReaderCall:
    prompt: str  # the request's completion prompt, as sent
    question: str
    passage: str  # the whole ``Passage:`` line after the label (one or several "Title: text")
    main: str | None  # the tree reader's ``Main question:`` (None for the flat reader)


def reader_calls(cache: str | Path) -> Iterator[ReaderCall]:
    """Every reader request stored in the call cache at ``cache`` (see the module doc)."""
    path = Path(cache)
    if not path.is_file():
        raise DataError(f"no call cache at {path}")
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = con.execute("SELECT request FROM calls ORDER BY key").fetchall()
        con.close()
    except sqlite3.DatabaseError as e:
        raise DataError(f"{path}: not a forage call cache ({e})") from None
    seen: set[str] = set()
    for (raw,) in rows:
        try:
            prompt = json.loads(raw).get("prompt")
        except (ValueError, AttributeError):
            continue
        if not isinstance(prompt, str) or prompt in seen:
            continue
        call = parse_reader_query(prompt)
        if call is not None:
            seen.add(prompt)
            yield call


def parse_reader_query(prompt: str) -> ReaderCall | None:
    """The reader query that ends ``prompt``, or None when it ends with anything else."""
    if not prompt.endswith("Answer:"):
        return None
    lines = prompt.rsplit("\n\n", 1)[-1].split("\n")
    if len(lines) < 3 or not lines[-2].startswith("Question: "):
        return None
    passages = [ln for ln in lines[:-2] if ln.startswith("Passage: ")]
    if not passages:
        return None
    main = next((ln.removeprefix("Main question: ") for ln in lines
                 if ln.startswith("Main question: ")), None)
    return ReaderCall(prompt, lines[-2].removeprefix("Question: "),
                      passages[-1].removeprefix("Passage: "), main)


def _key(text: str) -> str:
    return " ".join(normalize_answer(text).split())


def relabel(calls: Sequence[ReaderCall], records: Sequence[Gold],
            guard: Guard | None = None) -> tuple[list[Example], dict[str, int]]:
    """Labelled examples of ``calls`` (see the module doc), and why the others were left out."""
    wanted: dict[str, tuple[Gold, str, tuple[str, ...]]] = {}
    for g in records:
        if g.answer and _key(g.answer) not in ("yes", "no"):
            titles = tuple(p.title for p in g.passages)
            wanted.setdefault(_key(g.question), (g, g.answer, titles))
        for step, hop in zip(_resolved(g), g.hops):
            if step.answer and hop.passage is not None and "#" not in step.question:
                wanted.setdefault(_key(step.question), (g, step.answer, (hop.passage.title,)))
    out: list[Example] = []
    dropped = {"no training record": 0, "answer only in non-supporting passages": 0, "guard": 0}
    for call in calls:
        hit = wanted.get(_key(call.question))
        if hit is None:
            dropped["no training record"] += 1
            continue
        g, answer, titles = hit
        if _key(answer) not in _key(call.passage):
            label = ABSTAIN
        elif any(call.passage.startswith(f"{t}: ") or f" {t}: " in call.passage for t in titles):
            label = answer
        else:
            dropped["answer only in non-supporting passages"] += 1
            continue
        completion = continue_text(call.prompt, label)[len(call.prompt):] + "\n"
        if guard is not None and guard.reason([call.prompt], [completion]) is not None:
            dropped["guard"] += 1
            continue
        out.append(Example(FORMAT, g.source, g.id, call.prompt, completion))
    return out, dropped


__all__ = ["FORMAT", "ReaderCall", "parse_reader_query", "reader_calls", "relabel"]
