"""The training mixture: gold records from training-only sources, rendered in every format.

``build_mixture(settings)`` reads the records (``gold``): generated worlds whose seeds are refused
when evaluation uses them (``guard.check_train_seed``) and the shared training files (MuSiQue,
HotpotQA, Break, StrategyQA train); drops every record the evaluation guard forbids; then fills each
format of ``formats.FORMATS`` with up to ``per_format`` examples, taking records round-robin across
sources so no single source fills a format. Each example's few-shot exemplars are drawn (0 to
``max_shots`` of them) from *other* records of the same source, so prompts look like inference
prompts with dev shots without the model learning one fixed set. Every rendered example is checked
again by the guard (prompt and completion) and dropped when longer than ``max_chars``.

With ``calls`` (bench call caches of runs on training data), the reader calls they hold join the
mixture as format ``calls``, relabelled from gold support (``forage.train.calls``).

The same settings give the same examples, byte for byte; ``Mixture.digest`` is the sha256 of their
JSON lines. ``save``/``load`` write and read ``examples.jsonl`` and ``mixture.json`` (settings,
counts, digest, the guard's digest).

Not here: rendering each format's examples (``examples``), what is forbidden (``guard``),
tokenising (``trainer``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from forage.core.errors import ConfigError, DataError
from forage.data.world import WorldSettings
from forage.prompts.exemplars import DevExample, DevStep, ExemplarSet
from forage.prompts.reader import Exemplar
from forage.prompts.spec import titled
from forage.train.calls import FORMAT as CALLS
from forage.train.calls import reader_calls, relabel
from forage.train.examples import FORMATS, Example, examples_for
from forage.train.gold import Gold, records_in, to_dev_example, world_records
from forage.train.guard import Guard, check_train_seed, eval_guard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MixtureSettings:
    seed: int = 0
    per_format: int = 400
    formats: tuple[str, ...] = tuple(FORMATS)
    world_seeds: tuple[int, ...] = (1001, 1002, 1003)
    world_entities: int = 400
    world_questions: int = 300
    world_hops: tuple[int, int] = (1, 4)
    train_dir: str | None = None  # the shared training files; None: worlds only
    eval_dir: str = "data"  # the evaluation files the guard reads
    max_shots: int = 2
    max_chars: int = 3000
    # Per-format overrides: how many examples (default ``per_format``), at most how many shots
    # (default ``max_shots``; 0 makes a format zero-shot), and the training worlds' paraphrase.
    format_counts: tuple[tuple[str, int], ...] = ()
    format_shots: tuple[tuple[str, int], ...] = ()
    world_paraphrase: float = 0.5
    # Call caches of bench runs on training data: their reader calls, relabelled from gold support
    # (``forage.train.calls``), join the mixture as format "calls" (``format_counts`` caps them).
    calls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ConfigError(f"unknown format {unknown[0]!r}: choose from {', '.join(FORMATS)}")
        if self.per_format < 1:
            raise ConfigError(f"per-format count must be at least 1, not {self.per_format}")
        if not 0 <= self.max_shots <= 4:
            raise ConfigError(f"max shots must lie within 0-4, not {self.max_shots}")
        for s in self.world_seeds:
            check_train_seed(s)
        if not self.world_seeds and not self.train_dir:
            raise ConfigError("no training source: give world seeds or a training folder")
        if not 0 <= self.world_paraphrase <= 1:
            raise ConfigError(f"world paraphrase must lie within 0-1, not {self.world_paraphrase}")
        for what, pairs in (("count", self.format_counts), ("shots", self.format_shots)):
            for fmt, n in pairs:
                if fmt not in self.formats and not (fmt == CALLS and self.calls):
                    raise ConfigError(f"format {what} for {fmt!r}, which is not a format of "
                                      f"this mixture ({', '.join(self.formats)})")
                if n < (1 if what == "count" else 0) or (what == "shots" and n > 4):
                    raise ConfigError(f"format {what} of {fmt} out of range: {n}")

    def count(self, fmt: str) -> int:
        return dict(self.format_counts).get(fmt, self.per_format)

    def shots(self, fmt: str) -> int:
        return dict(self.format_shots).get(fmt, self.max_shots)

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        for k in ("format_counts", "format_shots", "world_paraphrase", "calls"):  # only when set
            if d[k] == MixtureSettings.__dataclass_fields__[k].default:
                del d[k]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


@dataclass(frozen=True)
class Mixture:
    settings: MixtureSettings
    examples: tuple[Example, ...]
    guard_digest: str
    dropped: dict[str, int] = field(default_factory=dict)  # why records/examples were left out

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for e in self.examples:
            h.update((json.dumps(e.to_dict(), ensure_ascii=False, sort_keys=True) + "\n").encode())
        return h.hexdigest()

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            "format": dict(sorted(Counter(e.format for e in self.examples).items())),
            "source": dict(sorted(Counter(e.source for e in self.examples).items())),
        }

    def summary(self) -> dict[str, object]:
        return {"examples": len(self.examples), "digest": self.digest,
                "guard": self.guard_digest, "settings": self.settings.to_dict(),
                "counts": self.counts(), "dropped": self.dropped}

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "examples.jsonl").open("w", encoding="utf-8") as f:
            for e in self.examples:
                f.write(json.dumps(e.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
        (folder / "mixture.json").write_text(json.dumps(self.summary(), indent=2) + "\n")
        return folder


def load_examples(folder: str | Path) -> tuple[tuple[Example, ...], dict[str, object]]:
    """The examples and summary a ``Mixture.save`` wrote."""
    folder = Path(folder)
    try:
        summary = json.loads((folder / "mixture.json").read_text())
        lines = (folder / "examples.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{folder}: not a saved mixture ({e})") from e
    return tuple(Example(**json.loads(line)) for line in lines if line.strip()), summary


# -- few-shot pools --------------------------------------------------------------------------------


def _reader_exemplars(g: Gold) -> list[Exemplar]:
    if not g.readable_hops():
        return []
    return [Exemplar(titled(s.title, s.evidence), s.question, s.answer)
            for s in to_dev_example(g).resolved_steps()
            if "#" not in s.question and len(s.answer.split()) <= 6]


def _shot_example(g: Gold) -> DevExample | None:
    e = to_dev_example(g)
    if g.readable_hops() and len(g.hops) >= 2:
        return e
    if not g.hops and len(e.evidence) >= 2 and g.answer:  # evidence-only (HotpotQA)
        return e
    if g.plan:  # planning sources: steps without answers, used by the planner's shots only
        return DevExample(g.question, g.answer, steps=tuple(DevStep(q, "") for q in g.plan))
    return None


@dataclass(frozen=True)
class _Pool:
    reader: tuple[tuple[str, Exemplar], ...]  # (record id, exemplar)
    multi: tuple[tuple[str, DevExample], ...]

    @classmethod
    def of(cls, records: Sequence[Gold]) -> _Pool:
        reader = [(g.id, x) for g in records for x in _reader_exemplars(g)]
        multi = [(g.id, x) for g in records if (x := _shot_example(g)) is not None]
        return cls(tuple(reader), tuple(multi))

    def draw(self, rng: random.Random, exclude: str, max_shots: int) -> ExemplarSet:
        reader = [x for i, x in self.reader if i != exclude]
        multi = [x for i, x in self.multi if i != exclude]
        n_r, n_m = rng.randint(0, max_shots), rng.randint(0, max_shots)
        return ExemplarSet(reader=tuple(rng.sample(reader, min(n_r, len(reader)))),
                           multi_hop=tuple(rng.sample(multi, min(n_m, len(multi)))))


# -- building --------------------------------------------------------------------------------------


def gold_records(settings: MixtureSettings) -> list[Gold]:
    """Every record of the configured sources, in a fixed order."""
    records: list[Gold] = []
    for seed in settings.world_seeds:
        check_train_seed(seed)
        records += world_records(WorldSettings(
            seed=seed, entities=settings.world_entities, hops=settings.world_hops,
            questions=settings.world_questions, paraphrase=settings.world_paraphrase))
    if settings.train_dir:
        records += list(records_in(settings.train_dir))
    return records


def _round_robin(records: Sequence[Gold], rng: random.Random) -> list[Gold]:
    by_source: dict[str, list[Gold]] = {}
    for g in records:
        by_source.setdefault(g.source, []).append(g)
    queues = []
    for source in sorted(by_source):
        q = list(by_source[source])
        rng.shuffle(q)
        queues.append(q)
    out: list[Gold] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop())
    return out


def build_mixture(settings: MixtureSettings, *, guard: Guard | None = None) -> Mixture:
    """The mixture ``settings`` describe (see the module docstring)."""
    guard = guard or eval_guard(settings.eval_dir)
    dropped: Counter[str] = Counter()
    records = []
    for g in gold_records(settings):
        shown = [*(p.text for p in g.passages), *(s for _, s in g.evidence)]
        taught = [g.answer, *(h.answer for h in g.hops)]
        if guard.reason(shown, taught, [g.question, *g.steps]) is None:
            records.append(g)
        else:
            dropped[f"record from {g.source}"] += 1
    by_source: dict[str, list[Gold]] = {}
    for g in records:
        by_source.setdefault(g.source, []).append(g)
    pools = {s: _Pool.of(rs) for s, rs in by_source.items()}
    rng = random.Random(settings.seed)
    examples: list[Example] = []
    for fmt in settings.formats:
        kept, wanted = 0, settings.count(fmt)
        for g in _round_robin(records, rng):
            if kept >= wanted:
                break
            shots = pools[g.source].draw(rng, g.id, settings.shots(fmt))
            for e in examples_for(fmt, g, shots, rng):
                if len(e.prompt) + len(e.completion) > settings.max_chars:
                    # Try once more without shots: a long passage leaves no room for them.
                    e2 = examples_for(fmt, g, ExemplarSet((), ()), random.Random(rng.random()))
                    if not e2 or len(e2[0].prompt) + len(e2[0].completion) > settings.max_chars:
                        dropped["too long"] += 1
                        continue
                    e = e2[0]
                if guard.reason([e.prompt], [e.completion]) is not None:
                    dropped[f"example ({fmt})"] += 1
                    continue
                examples.append(e)
                kept += 1
        if kept < wanted:
            log.info("format %s: %d examples (fewer than %d)", fmt, kept, wanted)
    if settings.calls:
        found = [c for path in settings.calls for c in reader_calls(path)]
        labelled, why = relabel(found, records, guard)
        rng.shuffle(labelled)
        wanted = dict(settings.format_counts).get(CALLS, len(labelled))
        examples += labelled[:wanted]
        dropped.update({f"call ({k})": v for k, v in why.items() if v})
        log.info("calls: %d reader calls found, %d labelled, %d kept", len(found),
                 len(labelled), min(wanted, len(labelled)))
    rng.shuffle(examples)
    return Mixture(settings, tuple(examples), guard.digest, dict(sorted(dropped.items())))
