"""What may never be trained on: every evaluation question, answer entity and paragraph.

Evaluation data is the shared HotpotQA-500 and 2Wiki-200 files and the generated worlds that tests,
benchmarks, the Makefile and the README use (``EVAL_WORLDS``). Their dev splits are for selection
only and their test splits are what is scored, so the guard forbids *both* splits of each file and
world: its questions, its answer entities and every paragraph of its pooled corpus.

World seeds: every seed below ``TRAIN_SEED_MIN`` is reserved for evaluation (all the repository's
worlds use small seeds), so a training world's seed must be at least that; ``check_train_seed``
refuses anything else. Names can still coincide across seeds (the name generator draws from the
same syllables), which is why the guard also checks content, not seeds alone.

World templates: a world written with held-out templates (``WorldSettings(templates="heldout")``)
exists to measure transfer, whatever its seed, so it is never a training world either;
``check_train_world`` refuses both, and ``gold.world_records`` calls it for every training world.

``Guard.reason(shown, taught, asked)`` says why a piece of training material is forbidden, or
returns ``None`` (after SQuAD normalisation): an evaluation question or paragraph anywhere in it
(whole, a question quoted in a prompt, a paragraph's first twelve words); an evaluation answer
entity as a run of whole words inside what it teaches the model to write, or a multi-word one
inside a question it asks. An entity named inside a training *passage* is allowed: "United States" in a MuSiQue
paragraph teaches no test answer, and forbidding it would discard most real text. Answers that are
no entities are not checked: yes/no, numbers and dates, and anything shorter than
``MIN_ENTITY_CHARS`` characters. The mixture checks each gold record (question, sub-questions,
answers, passages in full) and each rendered example (prompt and completion) before keeping it.

Not here: reading training sources (``gold``), building the mixture (``mixture``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from forage.core.errors import ConfigError
from forage.core.text import normalize_answer
from forage.data.loaders import load
from forage.data.world import WorldSettings, generate_world

log = logging.getLogger(__name__)

TRAIN_SEED_MIN = 1000
MIN_ENTITY_CHARS = 4

# Every generated world the repository evaluates on (benchmarks/, tests/, Makefile, README).
EVAL_WORLDS: tuple[WorldSettings, ...] = (
    WorldSettings(seed=0, entities=400, hops=(1, 6)),  # README
    WorldSettings(seed=1, entities=200, hops=(2, 4), questions=60),  # make demo
    WorldSettings(seed=1, entities=800, hops=(1, 6), questions=250),  # benchmarks/headline.py
    WorldSettings(seed=1, entities=400, hops=(1, 4), questions=200),  # docs/LOG.md
    WorldSettings(seed=1, entities=400, hops=(2, 3), questions=200, types=("bridge",)),
    # benchmarks/strategies_on_world.py --hops 2-4
    WorldSettings(seed=1, entities=400, hops=(2, 4), questions=200, types=("bridge",)),
    WorldSettings(seed=3, entities=400, hops=(1, 6), questions=200, types=("bridge",)),
    WorldSettings(seed=5, entities=600, hops=(1, 4), questions=400),  # tree_pruning.py
    WorldSettings(seed=7, entities=200, hops=(1, 3), questions=60),  # tests/conftest.py
    WorldSettings(seed=11, entities=400, hops=(1, 1), questions=300, types=("bridge",)),
)
EVAL_FILES = ("hotpotqa_dev_distractor_500.jsonl", "2wikimultihopqa_dev_200.jsonl")


def check_train_seed(seed: int) -> None:
    """Raise ``ConfigError`` unless ``seed`` may generate a training world."""
    used = sorted({w.seed for w in EVAL_WORLDS})
    if seed < TRAIN_SEED_MIN:
        raise ConfigError(
            f"world seed {seed} is reserved for evaluation (seeds below {TRAIN_SEED_MIN}; "
            f"the repository evaluates on {', '.join(map(str, used))}): train on seeds >= "
            f"{TRAIN_SEED_MIN}"
        )


def check_train_world(settings: WorldSettings) -> None:
    """Raise ``ConfigError`` unless ``settings`` may generate a training world: a training seed
    (``check_train_seed``) and standard templates."""
    check_train_seed(settings.seed)
    if settings.templates != "standard":
        raise ConfigError(
            f"worlds with {settings.templates!r} templates are for evaluation only (they measure "
            "transfer to phrasing no training world has): train on standard worlds"
        )


_NUMBERISH = re.compile(r"^[\d\s.,/:-]*(?:bc|ad|bce|ce|st|nd|rd|th|s)?$")
_MONTHS = ("january february march april may june july august september october november "
           "december").split()


def is_entity(answer: str) -> bool:
    """An answer worth keeping out of training text: not yes/no, no number or date, not tiny."""
    a = normalize_answer(answer)
    if len(a) < MIN_ENTITY_CHARS or a in ("yes", "no", "unknown", "none"):
        return False
    if _NUMBERISH.match(a):
        return False
    words = a.split()
    return not all(w in _MONTHS or w.isdigit() for w in words)


@dataclass(frozen=True, eq=False)
class Guard:
    """The normalised evaluation questions, answer entities and paragraphs."""

    questions: frozenset[str]
    answers: frozenset[str]
    paragraphs: frozenset[str]
    digest: str  # what was guarded against, for the manifest

    @classmethod
    def from_sources(
        cls, questions: Iterable[str], answers: Iterable[str], paragraphs: Iterable[str]
    ) -> Guard:
        qs = frozenset(n for n in map(normalize_answer, questions) if n)
        ans = frozenset(normalize_answer(a) for a in answers if is_entity(a))
        ps = frozenset(n for n in map(normalize_answer, paragraphs) if n)
        h = hashlib.sha256()
        for part in (qs, ans, ps):
            h.update("\n".join(sorted(part)).encode())
            h.update(b"\0")
        return cls(qs, ans, ps, h.hexdigest()[:16])

    def reason(
        self, shown: Sequence[str], taught: Sequence[str] = (), asked: Sequence[str] = ()
    ) -> str | None:
        """Why training material may not be used, or ``None``. ``shown``: any text it contains
        (prompts, passages); ``taught``: what it teaches the model to write (completions, gold
        answers); ``asked``: the questions it poses (a question and its sub-questions).

        Forbidden: an evaluation question or paragraph anywhere (whole, or a question quoted
        inside a longer text, or a paragraph's first words); an evaluation answer entity inside
        what is taught; a multi-word one inside a question asked (one-word entities such as
        "American" are too common in questions to forbid there). An entity named inside a
        *passage* is allowed ("Germany" or "United States" in a paragraph
        teaches no test answer), which keeps real-text training data usable."""
        entities, questions, paragraphs = _indexes(self)
        for t in taught:
            words = normalize_answer(t).split()
            if found := next((w for w in words if w in self.answers), None):
                return f"teaches an evaluation answer entity: {found!r}"
        for t in (*taught, *asked):
            n = normalize_answer(t)
            if n in self.answers:
                return f"evaluation answer entity: {t[:60]!r}"
            if found := entities.find(n.split()):
                return f"evaluation answer entity inside: {found[:60]!r}"
        for text in (*shown, *taught, *asked):
            n = normalize_answer(text)
            if n in self.questions:
                return f"evaluation question: {text[:60]!r}"
            if n in self.paragraphs:
                return f"evaluation paragraph: {text[:60]!r}"
            words = n.split()
            for what, index in (("question", questions), ("paragraph", paragraphs)):
                if found := index.find(words):
                    return f"evaluation {what} inside: {found[:60]!r}"
        return None


@dataclass(frozen=True)
class _Phrases:
    """Word sequences looked up by their first ``key`` words: ``find(words)`` is the first phrase
    that occurs in ``words`` as a run of whole words (only its first ``head`` words need to, so a
    passage cut short is still found)."""

    by_key: dict[tuple[str, ...], tuple[tuple[str, ...], ...]]
    key: int
    head: int

    @classmethod
    def of(cls, phrases: Iterable[str], *, key: int, head: int, min_words: int) -> _Phrases:
        out: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for p in phrases:
            words = tuple(p.split())
            if len(words) >= max(min_words, key):
                out.setdefault(words[:key], []).append(words[:head])
        return cls({k: tuple(v) for k, v in out.items()}, key, head)

    def find(self, words: Sequence[str]) -> str | None:
        for i in range(len(words) - self.key + 1):
            for phrase in self.by_key.get(tuple(words[i:i + self.key]), ()):
                if tuple(words[i:i + len(phrase)]) == phrase:
                    return " ".join(phrase)
        return None


@lru_cache(maxsize=8)
def _indexes(guard: Guard) -> tuple[_Phrases, _Phrases, _Phrases]:
    return (
        _Phrases.of(guard.answers, key=2, head=64, min_words=2),
        _Phrases.of(guard.questions, key=3, head=64, min_words=4),
        _Phrases.of(guard.paragraphs, key=4, head=12, min_words=8),
    )


def eval_guard(data_dir: str | Path, worlds: Sequence[WorldSettings] = EVAL_WORLDS) -> Guard:
    """The guard over ``EVAL_FILES`` in ``data_dir`` (``../shared/data``) and ``worlds``."""
    return _eval_guard(str(Path(data_dir).resolve()), tuple(worlds))


@lru_cache(maxsize=4)
def _eval_guard(data_dir: str, worlds: tuple[WorldSettings, ...]) -> Guard:
    questions: list[str] = []
    answers: list[str] = []
    paragraphs: list[str] = []
    for name in EVAL_FILES:
        path = Path(data_dir) / name
        if not path.is_file():
            raise ConfigError(f"evaluation file {path} is missing: cannot guard against it")
        data = load(path)
        for q in data.questions:
            questions.append(q.text)
            answers += q.answers
        paragraphs += [d.text for d in data.corpus]
    for settings in worlds:
        world = generate_world(settings)
        for wq in world.questions:
            questions.append(wq.text)
            answers.append(wq.answer)
            answers += [a for _, a in wq.decomposition]
        paragraphs += [d.document.text for d in world.documents.values()]
    log.info("guard: %d questions, %d answers, %d paragraphs", len(questions), len(answers),
             len(paragraphs))
    return Guard.from_sources(questions, answers, paragraphs)
