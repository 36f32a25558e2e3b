"""Gold records rendered as training examples in every prompt format forage runs.

Each ``FORMATS`` entry turns one ``Gold`` record (and the few-shot ``ExemplarSet`` its prompt
shows) into ``(spec, target)`` pairs through the strategies' own ``*_prompt`` builders; the pair is
rendered by ``forage.prompts.render.render_example`` for the ``completion`` profile (the one the
embedded models run), so a training prompt is byte for byte the request the strategy sends at
inference for the same state. The formats:

- ``plan`` (tree planner: question -> numbered sub-questions with ``#k``), ``next`` (stepwise
  planner: known facts -> next sub-question or ``none``), ``read`` (tree executor's reader: memory,
  full passage, resolved sub-question -> short answer), ``abstain`` (the same reader shown a
  passage that does not state the answer -> ``unknown``), ``calib`` (the same reader, balanced so
  that the question's shape predicts nothing: the whole question or a sub-question, each shown a
  passage that states its answer -> the answer, or one that does not -> ``unknown``), ``synth``
  (synthesiser: facts -> answer);
- ``thread``: one line of the single-stream format (task, search, conclusion or answer) in the
  pruned view the runtime keeps (finished tasks' searches and results removed), the ``Result:``
  line written by ``thread_format.result_text`` as the runtime does;
- ``rag`` (the reader over the top passage(s): also Self-Ask's and ReAct's fallback reader),
  ``react`` (one Thought/Action step of a trajectory whose observations are the gold passages),
  ``ircot`` (the next reasoning sentence, or the answer), ``self_ask`` (the next follow-up, or the
  final answer), ``verify`` (does the passage support the answer: Yes / No, balanced).

Not here: which records and how many of each format (``mixture``), reading sources (``gold``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from forage.core.types import Document, Hit
from forage.hierarchy.thread_format import prefix, result_text, stream_prompt
from forage.hierarchy.tree_prompts import (
    Memory,
    memory_reader_prompt,
    next_question_prompt,
    planner_prompt,
    synthesiser_prompt,
)
from forage.prompts.exemplars import DevExample, DevStep, ExemplarSet
from forage.prompts.parse import ANSWER_MARKER
from forage.prompts.reader import flat_reader_prompt
from forage.prompts.render import TrainingPair, render, render_example
from forage.prompts.spec import Block, PromptSpec, continue_text, passage_text, titled
from forage.prompts.verifier import verify_prompt
from forage.strategies.direct import reasoning_sentences
from forage.strategies.ircot import ircot_prompt
from forage.strategies.react import react_prompt, trajectory_block
from forage.strategies.self_ask import FINAL, FOLLOW_UP, INTERMEDIATE, self_ask_prompt
from forage.train.gold import Gold, Passage, to_dev_example

PROFILE = "completion"
THREAD_RESULT_WORDS = 60  # Thread.result_words
REACT_OBSERVATION_WORDS = 80  # ReAct.max_words
IRCOT_WORDS, IRCOT_PASSAGES = 80, 3  # IRCoT.max_words, IRCoT.max_passages


@dataclass(frozen=True)
class Example:
    """One training example: ``prompt`` is the inference request's text, ``completion`` what the
    model must write after it (the loss is taken on the completion only)."""

    format: str
    source: str
    record: str
    prompt: str
    completion: str

    @classmethod
    def of(cls, fmt: str, gold: Gold, pair: TrainingPair) -> Example:
        assert pair.request.prompt is not None
        return cls(fmt, gold.source, gold.id, pair.request.prompt, pair.completion)

    def to_dict(self) -> dict[str, str]:
        return {"format": self.format, "source": self.source, "record": self.record,
                "prompt": self.prompt, "completion": self.completion}


Pairs = Iterator[tuple[PromptSpec, str]]


def ending(spec: PromptSpec, target: str, end: str) -> TrainingPair:
    """``render_example`` with ``end`` (one of the spec's stop sequences) closing the completion
    instead of the first: where a continuation really ends at another stop (Self-Ask's final
    answer ends its exemplar, not at ``Intermediate answer:``)."""
    if end not in spec.stop:
        raise ValueError(f"{end!r} is not a stop sequence of this prompt")
    request = render(spec, PROFILE)
    assert request.prompt is not None
    written = continue_text(request.prompt, target)
    return TrainingPair(request, written[len(request.prompt):] + end)


def _resolved(g: Gold) -> tuple[DevStep, ...]:
    return to_dev_example(g).resolved_steps() if g.hops else ()


def _hit(p: Passage, rank: int = 0) -> Hit:
    return Hit(Document(p.title, p.title, p.text), 1.0, rank)


# -- the hierarchy ---------------------------------------------------------------------------------


def plan_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    steps = g.steps
    if steps:
        numbered = "\n".join(f"{i}. {q}" for i, q in enumerate(steps, 1))
        yield planner_prompt(g.question, shots), numbered.removeprefix("1. ")


def next_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    steps = _resolved(g)
    if not steps or any(not s.answer for s in steps):
        return
    i = rng.randrange(len(steps) + 1)
    known = tuple((s.question, s.answer) for s in steps[:i])
    yield next_question_prompt(Memory(g.question, facts=known), shots), (
        steps[i].question if i < len(steps) else "none")


def read_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    if not g.readable_hops():
        return
    steps = _resolved(g)
    i = rng.randrange(len(steps))
    p = g.hops[i].passage
    assert p is not None
    known = tuple((s.question, s.answer) for s in steps[:i])
    memory = Memory(g.question, facts=known)
    yield memory_reader_prompt(steps[i].question, titled(p.title, p.text), memory, shots), \
        steps[i].answer


def abstain_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    """The tree's reader shown a passage that does not state what it is asked -> ``unknown``.

    Half the time (when it can) the whole question of a multi-hop record with one of its hops'
    passages: what reading first (``Tree.direct_first``) meets on a question that needs several
    passages, where a confident partial answer ends the run with an intermediate entity; otherwise
    a sub-question with another hop's passage. Only passages that do not contain the wanted answer
    are used, so "unknown" is what the passage really supports. The tree reads ``unknown`` as no
    answer and goes on (plans, or reads the next passage)."""
    if not g.readable_hops() or len(g.hops) < 2:
        return
    steps = _resolved(g)
    passages = [h.passage for h in g.hops]

    def absent(answer: str, j: int) -> bool:
        p = passages[j]
        assert p is not None
        return bool(answer) and answer.lower() not in f"{p.title} {p.text}".lower()

    whole = [(g.question, (), j) for j in range(len(steps)) if absent(g.answer, j)]
    parts = [(steps[i].question, tuple((s.question, s.answer) for s in steps[:i]), j)
             for i in range(len(steps)) for j in range(len(steps))
             if j != i and absent(steps[i].answer, j)]
    cases = whole if whole and (not parts or rng.random() < 0.5) else parts
    if not cases:
        return
    question, known, j = rng.choice(cases)
    p = passages[j]
    assert p is not None
    yield memory_reader_prompt(question, titled(p.title, p.text), Memory(g.question, facts=known),
                               shots), "unknown"


CALIB_CELLS = (("whole", True), ("whole", False), ("part", True), ("part", False))


def _states(answer: str, p: Passage) -> bool:
    return bool(answer) and answer.lower() in f"{p.title} {p.text}".lower()


def calib_cases(g: Gold) -> dict[tuple[str, bool], list[tuple[str, tuple[tuple[str, str], ...],
                                                             Passage]]]:
    """Every reading of ``g`` the tree's reader can meet, by cell (whole question or a sub-question,
    passage stating its answer or not): (question, known facts, passage). A positive passage is a
    supporting one that contains the answer; a negative one is another hop's supporting passage
    (what reading first meets on a multi-hop question) or one of the record's look-alike
    distractors, never containing the answer."""
    cells: dict[tuple[str, bool], list[tuple[str, tuple[tuple[str, str], ...], Passage]]] = {
        c: [] for c in CALIB_CELLS}
    if not g.answer or g.answer.lower() in ("yes", "no"):
        return cells
    hop_passages = [h.passage for h in g.hops if h.passage is not None] if g.hops else []
    support = list(dict.fromkeys([*hop_passages, *g.passages]))
    for p in support:
        cells["whole", _states(g.answer, p)].append((g.question, (), p))
    for p in g.distractors:
        if not _states(g.answer, p):
            cells["whole", False].append((g.question, (), p))
    if g.readable_hops():
        steps = _resolved(g)
        for i, s in enumerate(steps):
            known = tuple((x.question, x.answer) for x in steps[:i])
            for j, h in enumerate(g.hops):
                assert h.passage is not None
                if j == i:
                    if _states(s.answer, h.passage):
                        cells["part", True].append((s.question, known, h.passage))
                elif not _states(s.answer, h.passage):
                    cells["part", False].append((s.question, known, h.passage))
            for p in g.distractors:
                if not _states(s.answer, p):
                    cells["part", False].append((s.question, known, p))
    return cells


def calib_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    """One reading of ``g`` from a cell drawn uniformly among those it has (``calib_cases``):
    the answer where the passage states it, ``unknown`` where it does not."""
    cells = calib_cases(g)
    filled = [c for c in CALIB_CELLS if cells[c]]
    if not filled:
        return
    kind, states = rng.choice(filled)
    question, known, p = rng.choice(cells[kind, states])
    answer = g.answer if kind == "whole" else dict(
        (s.question, s.answer) for s in _resolved(g))[question]
    yield memory_reader_prompt(question, titled(p.title, p.text), Memory(g.question, facts=known),
                               shots), answer if states else "unknown"


def synth_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    steps = _resolved(g)
    if len(steps) >= 2 and g.answer:
        yield synthesiser_prompt(g.question, [(s.question, s.answer) for s in steps], shots), \
            g.answer


def thread_lines(g: Gold) -> list[tuple[str, ...]]:
    """The stream of a gold run as (row, kind) pairs: task, search, result, conclusion, answer."""
    rows: list[tuple[str, ...]] = []
    for i, (s, h) in enumerate(zip(_resolved(g), g.hops, strict=True), 1):
        assert h.passage is not None
        result = result_text(h.passage.title, h.passage.text, max_words=THREAD_RESULT_WORDS)
        rows += [(f"{prefix('task', i)} {s.question}", "task"),
                 (f"{prefix('search')} {s.question}", "search"),
                 (result.removesuffix("\n"), "result"),
                 (f"{prefix('conclusion', i)} {s.answer}", "conclusion")]
    rows.append((f"{prefix('answer')} {g.answer}", "answer"))
    return rows


def pruned(rows: list[tuple[str, ...]]) -> list[str]:
    """The stream the model sees: a concluded task keeps only its task and conclusion lines."""
    out: list[str] = []
    open_internals: list[int] = []
    for row, kind in rows:
        if kind in ("search", "result"):
            open_internals.append(len(out))
        if kind == "conclusion":
            out = [r for j, r in enumerate(out) if j not in open_internals]
            open_internals = []
        out.append(row)
    return out


def thread_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    if not g.readable_hops() or not g.answer:
        return
    rows = thread_lines(g)
    generated = [j for j, (_, kind) in enumerate(rows) if kind != "result"]
    j = rng.choice(generated)
    before = pruned(rows[:j])
    spec = stream_prompt(shots.multi_hop, g.question)
    # The stream so far continues the question line, exactly as the runtime writes it.
    spec = replace(spec, query=Block((*spec.query.rows, *before)))
    yield spec, rows[j][0]


# -- flat baselines --------------------------------------------------------------------------------


def rag_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    if g.readable_hops():
        steps = _resolved(g)
        i = rng.randrange(len(steps))
        p = g.hops[i].passage
        assert p is not None
        # A one-hop question is itself what RAG searches and reads for; a hop of a longer one is
        # what Self-Ask's and ReAct's reader is asked.
        question = g.question if len(steps) == 1 and rng.random() < 0.5 else steps[i].question
        yield flat_reader_prompt(question, [_hit(p)], exemplars=shots.reader), steps[i].answer
    elif g.passages and g.answer and not g.hops:
        stating = [p for p in g.passages if g.answer.lower() in p.text.lower()]
        hits = [_hit(p, r) for r, p in enumerate(stating[:1] or g.passages)]
        if rng.random() < 0.5 and len(g.passages) >= 2:  # the two gold passages, k = 2
            shuffled = list(g.passages[:2])
            rng.shuffle(shuffled)
            hits = [_hit(p, r) for r, p in enumerate(shuffled)]
        yield flat_reader_prompt(g.question, hits, exemplars=shots.reader), g.answer


def react_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    if not g.readable_hops() or not g.answer:
        return
    # Observations as the strategy writes them: passage_text of the top hit, cut to max_words.
    cut = DevExample(g.question, g.answer, steps=tuple(
        DevStep(h.question, h.answer,
                " ".join(h.passage.text.split()[:REACT_OBSERVATION_WORDS]),  # type: ignore[union-attr]
                h.passage.title)  # type: ignore[union-attr]
        for h in g.hops))
    block = trajectory_block(cut)
    n = len(g.hops) + 1
    i = rng.randrange(1, n + 1)
    transcript = "".join(f"{r}\n" for r in block.rows[1:1 + 3 * (i - 1)])
    if i < n:
        thought, action = block.rows[1 + 3 * (i - 1)], block.rows[2 + 3 * (i - 1)]
        target = f"{thought.split(': ', 1)[1]}\n{action}"
    else:
        target = f"{block.rows[-1].split(': ', 1)[1]}\n{block.cue_line()}"
    yield react_prompt(g.question, transcript, i, shots.multi_hop), target


def ircot_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    if not g.answer or not (g.readable_hops() or (g.evidence and not g.hops)):
        return
    sentences = reasoning_sentences(to_dev_example(g))
    passages = [h.passage for h in g.hops] if g.hops else list(g.passages)
    if not sentences or not passages:
        return
    i = rng.randrange(len(sentences) + 2)  # a sentence, the answer sentence, or the final call
    seen = [_hit(p) for p in passages[: min(i + 1, len(passages))]][-IRCOT_PASSAGES:]  # type: ignore[arg-type]
    if i < len(sentences):
        spec = ircot_prompt(g.question, seen, sentences[:i], shots.multi_hop,
                            max_words=IRCOT_WORDS)
        yield spec, sentences[i]
    elif i == len(sentences):
        spec = ircot_prompt(g.question, seen, sentences, shots.multi_hop, max_words=IRCOT_WORDS)
        yield spec, f"{ANSWER_MARKER} {g.answer}."
    else:
        spec = ircot_prompt(g.question, seen, sentences, shots.multi_hop, max_words=IRCOT_WORDS,
                            final=True)
        yield spec, f"{g.answer}."


def self_ask_examples(g: Gold, shots: ExemplarSet, rng: random.Random) -> Iterator[TrainingPair]:
    steps = _resolved(g)
    if not steps or not g.answer or any(not s.answer for s in steps):
        return
    i = rng.randrange(len(steps) + 1)
    transcript = "".join(f"{FOLLOW_UP} {s.question}\n{INTERMEDIATE} {s.answer}\n"
                         for s in steps[:i])
    if i == 0:
        spec = self_ask_prompt(g.question, "", shots.multi_hop)
        yield render_example(spec, f"Yes.\n{FOLLOW_UP} {steps[0].question}\n", PROFILE)
    elif i < len(steps):
        spec = self_ask_prompt(g.question, " Yes.\n" + transcript, shots.multi_hop)
        yield render_example(spec, f"{FOLLOW_UP} {steps[i].question}\n", PROFILE)
    elif rng.random() < 0.5:
        spec = self_ask_prompt(g.question, " Yes.\n" + transcript, shots.multi_hop)
        yield ending(spec, f"{FINAL} {g.answer}", "\n\n")
    else:  # the forced final call
        spec = self_ask_prompt(g.question, " Yes.\n" + transcript, shots.multi_hop, label=FINAL)
        yield render_example(spec, g.answer, PROFILE)


def verify_pairs(g: Gold, shots: ExemplarSet, rng: random.Random) -> Pairs:
    """Balanced: the supported answer, or another answer of the same record (an intermediate
    entity) read against the same passage."""
    candidates: list[tuple[str, Passage, str]] = []
    if g.readable_hops():
        steps = _resolved(g)
        for s, h in zip(steps, g.hops, strict=True):
            candidates.append((s.question, h.passage, s.answer))  # type: ignore[arg-type]
    elif g.answer and g.passages:
        stating = [p for p in g.passages if g.answer.lower() in p.text.lower()]
        if stating:
            candidates.append((g.question, stating[0], g.answer))
    if not candidates:
        return
    question, passage, answer = rng.choice(candidates)
    others = sorted(({a for _, _, a in candidates} | {g.answer}) - {answer, ""})
    wrong = [a for a in others if a.lower() not in passage.text.lower()]
    text = passage_text([_hit(passage)])
    if wrong and rng.random() < 0.5:
        yield verify_prompt(question, text, rng.choice(wrong), exemplars=shots), "No"
    else:
        yield verify_prompt(question, text, answer, exemplars=shots), "Yes"


# -- the registry ----------------------------------------------------------------------------------

PairFn = Callable[[Gold, ExemplarSet, random.Random], Pairs]
ExampleFn = Callable[[Gold, ExemplarSet, random.Random], Iterator[TrainingPair]]


def _rendered(fn: PairFn) -> ExampleFn:
    def examples(g: Gold, shots: ExemplarSet, rng: random.Random) -> Iterator[TrainingPair]:
        for spec, target in fn(g, shots, rng):
            yield render_example(spec, target, PROFILE)
    return examples


FORMATS: dict[str, ExampleFn] = {
    "plan": _rendered(plan_pairs),
    "next": _rendered(next_pairs),
    "read": _rendered(read_pairs),
    "abstain": _rendered(abstain_pairs),
    "calib": _rendered(calib_pairs),
    "synth": _rendered(synth_pairs),
    "thread": _rendered(thread_pairs),
    "rag": _rendered(rag_pairs),
    "react": _rendered(react_pairs),
    "ircot": _rendered(ircot_pairs),
    "self_ask": self_ask_examples,
    "verify": _rendered(verify_pairs),
}


def examples_for(fmt: str, g: Gold, shots: ExemplarSet, rng: random.Random) -> list[Example]:
    return [Example.of(fmt, g, pair) for pair in FORMATS[fmt](g, shots, rng)]


__all__ = ["FORMATS", "PROFILE", "Example", "ending", "examples_for", "pruned", "thread_lines"]
