"""The mixture builder: deterministic, balanced, and nothing of any evaluation split gets in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from forage.core.errors import ConfigError
from forage.core.text import normalize_answer
from forage.data.loaders import load
from forage.data.world import generate_world
from forage.eval.datasets import open_dataset
from forage.train.guard import EVAL_WORLDS, TRAIN_SEED_MIN, eval_guard, is_entity
from forage.train.mixture import MixtureSettings, build_mixture, load_examples

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
TRAIN = Path(__file__).parent / "data"  # first records of each shared training file


@pytest.fixture(scope="module")
def guard():
    return eval_guard(DATA)


@pytest.fixture(scope="module")
def settings():
    return MixtureSettings(seed=3, per_format=12, world_seeds=(1001,), world_entities=200,
                           world_questions=80, train_dir=str(TRAIN), eval_dir=str(DATA))


@pytest.fixture(scope="module")
def mixture(settings, guard):
    return build_mixture(settings, guard=guard)


def test_world_seeds_the_repository_evaluates_on_are_refused():
    for w in EVAL_WORLDS:
        with pytest.raises(ConfigError, match="reserved for evaluation"):
            MixtureSettings(world_seeds=(w.seed,))
    MixtureSettings(world_seeds=(TRAIN_SEED_MIN,))  # the first training seed is fine


def test_every_world_seed_written_in_the_repository_is_an_evaluation_seed():
    """Any `seed=N`, `--seed N` or `--world-seed N` in tests, benchmarks, Makefile or README is
    below TRAIN_SEED_MIN, so no training world can be one of them (tests/train/ trains)."""
    pattern = re.compile(r"(?:seed=|--seed[\" ,]+|--world-seed[\" ,]+|default=)(\d+)")
    files = [ROOT / "Makefile", ROOT / "README.md", *ROOT.glob("benchmarks/*.py"),
             *(f for f in ROOT.glob("tests/**/*.py") if "train" not in f.parts)]
    seeds = {int(m) for f in files if f.is_file()
             for line in f.read_text().splitlines() if "seed" in line
             for m in pattern.findall(line)}
    assert seeds and max(seeds) < TRAIN_SEED_MIN


def _eval_material():
    """Every question, answer entity and paragraph of the evaluation test splits, read through
    the evaluation code path (forage.eval.datasets), independently of the guard."""
    questions, answers, paragraphs = set(), set(), set()
    for name in ("hotpotqa_dev_distractor_500.jsonl", "2wikimultihopqa_dev_200.jsonl"):
        ds = open_dataset(DATA / name)
        for q in ds.questions:
            questions.add(normalize_answer(q.text))
            answers |= {normalize_answer(a) for a in q.answers if is_entity(a)}
        data = load(DATA / name)
        paragraphs |= {normalize_answer(d.text) for d in data.corpus}
    for settings in EVAL_WORLDS:
        world = generate_world(settings)
        for wq in world.split("test"):
            questions.add(normalize_answer(wq.text))
            answers |= {normalize_answer(a) for a in (wq.answer, *(a for _, a in wq.decomposition))
                        if is_entity(a)}
        paragraphs |= {normalize_answer(d.document.text) for d in world.documents.values()}
    return questions, answers, paragraphs


def test_no_evaluation_question_answer_or_paragraph_enters_the_mixture(mixture):
    questions, answers, paragraphs = _eval_material()
    heads = {" ".join(p.split()[:12]) for p in paragraphs if len(p.split()) >= 12}
    assert len(mixture.examples) > 60
    for e in mixture.examples:
        text = normalize_answer(e.prompt + " " + e.completion)
        taught = f" {normalize_answer(e.completion)} "
        for q in questions:
            assert q not in text or len(q) < 20, (e.format, q)
        for h in heads:
            assert h not in text, (e.format, h)
        for a in answers:
            assert f" {a} " not in taught, (e.format, a)


def test_the_guard_refuses_evaluation_material(guard):
    ds = open_dataset(DATA / "hotpotqa_dev_distractor_500.jsonl")
    q = ds.questions[0]
    doc = next(d for d in ds.corpus.documents if d.title in q.supporting_titles)
    cut = " ".join(doc.text.split()[:120])
    assert guard.reason([f"Passage: {doc.title}: {cut}\nQuestion: What?\nAnswer:"]) is not None
    assert guard.reason([f"Q: {q.text}\nA:"]) is not None
    entity = next(a for q in ds.questions for a in q.answers if is_entity(a))
    assert guard.reason(["Question: Who?\nAnswer:"], [f" {entity}\n"]) is not None
    assert guard.reason(["Passage: Quorra Bay has a pier.\nQuestion: What?\nAnswer:"],
                        [" a pier\n"]) is None


def test_same_settings_give_the_same_examples_and_hash(settings, guard, mixture):
    again = build_mixture(settings, guard=guard)
    assert again.examples == mixture.examples and again.digest == mixture.digest
    other = build_mixture(MixtureSettings(**{**settings.__dict__, "seed": 4}), guard=guard)
    assert other.digest != mixture.digest


def test_formats_come_in_comparable_amounts_from_several_sources(mixture, settings):
    counts = mixture.counts()
    assert set(counts["format"]) == set(settings.formats)
    assert max(counts["format"].values()) <= settings.per_format
    assert min(counts["format"].values()) >= settings.per_format // 2
    assert {"musique", "hotpotqa", "world1001"} <= set(counts["source"])


def test_saved_mixture_loads_back(mixture, tmp_path):
    mixture.save(tmp_path)
    examples, summary = load_examples(tmp_path)
    assert examples == mixture.examples and summary["digest"] == mixture.digest
