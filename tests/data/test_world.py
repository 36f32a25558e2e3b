"""The generated world: determinism, split separation, reachable and unique gold answers.

Every test that takes the ``world`` or ``files`` fixture runs on a standard world and on the
held-out-template world of the same settings (``tests/data/test_world_heldout.py`` checks what
differs between them)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import forage
from forage.core.errors import ConfigError
from forage.data.world import (
    World,
    WorldSettings,
    generate_world,
    parse_hops,
    parse_types,
)
from forage.data.world.build import HELDOUT_RELATIONS, RELATIONS
from forage.data.world.export import world_files
from forage.data.world.text import format_value

SETTINGS = WorldSettings(seed=7, entities=300, questions=150, hops=(1, 8), confusability=0.6)


@pytest.fixture(scope="module", params=["standard", "heldout"])
def world(request: pytest.FixtureRequest) -> World:
    return generate_world(replace(SETTINGS, templates=request.param))


@pytest.fixture(scope="module")
def files(world: World) -> dict[str, str]:
    return world_files(world)


def records(files: dict[str, str], *splits: str) -> list[dict]:
    return [json.loads(line) for s in splits for line in files[f"{s}.jsonl"].splitlines()]


def mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def sentence(record: dict, title: str, sent_id: int) -> str:
    ctx = record["metadata"]["context"]
    return ctx["sentences"][ctx["title"].index(title)][sent_id]


def digest(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


# -- determinism ---------------------------------------------------------------------------------


def test_same_seed_and_settings_give_byte_identical_files(
    world: World, files: dict[str, str]
) -> None:
    assert world_files(generate_world(world.settings)) == files


def test_output_does_not_depend_on_the_interpreter_hash_seed(
    world: World, files: dict[str, str]
) -> None:
    code = (
        "import hashlib, json; from forage.data.world import WorldSettings, generate_world; "
        "from forage.data.world.export import world_files; "
        "f = world_files(generate_world(WorldSettings(seed=7, entities=300, questions=150, "
        f"hops=(1, 8), confusability=0.6, templates={world.settings.templates!r}))); "
        "print(hashlib.sha256(json.dumps(f, sort_keys=True).encode()).hexdigest())"
    )
    src = str(Path(forage.__file__).parents[1])
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": src}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == digest(files)


# Digests of ``world_files`` (see ``digest``) computed on the generator before held-out templates
# existed (commit 754dc28). A standard world must stay byte-for-byte the same: changing a standard
# template, the order of rng calls or the export format breaks this on purpose.
PINNED = {
    "a4986e8b33e5215dda4f8b04802ba6d56e7c3a9f7c4a1fa35a762e93c2c18628": WorldSettings(),
    "f4cb7d6af448c4667e535b3229ce41125aa8b797934530612a7d2c8f37bb04f6": SETTINGS,
    "c97e95d46b3993f286eb5db27cbff3270fccfc9bf8093e077ee083b6c1372941": WorldSettings(
        seed=1, entities=200, hops=(2, 4), questions=60, paraphrase=1.0, types=("bridge",)
    ),
}


@pytest.mark.parametrize("expected", list(PINNED))
def test_standard_worlds_are_byte_identical_to_the_pinned_digests(expected: str) -> None:
    assert digest(world_files(generate_world(PINNED[expected]))) == expected


def test_different_seed_gives_different_world(world: World, files: dict[str, str]) -> None:
    other = world_files(generate_world(replace(world.settings, seed=8)))
    assert other["corpus.jsonl"] != files["corpus.jsonl"]
    assert other["test.jsonl"] != files["test.jsonl"]


# -- splits and counts ---------------------------------------------------------------------------


def test_dev_and_test_share_no_questions_and_no_chain_starts(world: World) -> None:
    dev, test = world.split("dev"), world.split("test")
    assert len(dev) == round(SETTINGS.questions * SETTINGS.dev_fraction)
    assert len(dev) + len(test) == SETTINGS.questions
    assert not {q.text for q in dev} & {q.text for q in test}
    assert not {q.id for q in dev} & {q.id for q in test}
    # the entity a question starts from, compares or answers with belongs to one split only
    assert not {q.entities[0] for q in dev} & {q.entities[0] for q in test}
    dev_pairs = {q.entities for q in dev if q.type == "comparison"}
    test_ids = {e for q in test if q.type == "comparison" for e in q.entities}
    assert not {e for pair in dev_pairs for e in pair} & test_ids


def test_questions_never_repeat(world: World) -> None:
    texts = [q.text for q in world.questions]
    assert len(set(texts)) == len(texts)


def test_bridge_hop_counts_cover_the_requested_range(world: World) -> None:
    bridges = [q for q in world.questions if q.type == "bridge"]
    assert {q.hops for q in bridges} == set(range(1, 9))
    for q in bridges:
        assert len(q.decomposition) == len(q.support) == len(q.relations) == q.hops


def test_only_requested_types_and_hops_are_generated() -> None:
    w = generate_world(WorldSettings(seed=1, entities=200, questions=30, hops=(3, 3),
                                     types=("bridge",)))  # fmt: skip
    assert {q.type for q in w.questions} == {"bridge"}
    assert {q.hops for q in w.questions} == {3}
    w = generate_world(WorldSettings(seed=1, entities=200, questions=20, types=("intersection",)))
    assert {q.type for q in w.questions} == {"intersection"}


def test_types_are_balanced_round_robin(world: World) -> None:
    counts = {t: sum(q.type == t for q in world.questions) for t in SETTINGS.types}
    assert max(counts.values()) - min(counts.values()) <= 2


# -- gold answers --------------------------------------------------------------------------------


def test_bridge_gold_answer_is_reached_through_the_supporting_sentences(
    files: dict[str, str],
) -> None:
    bridges = [r for r in records(files, "dev", "test") if r["metadata"]["type"] == "bridge"]
    assert bridges
    for r in bridges:
        meta = r["metadata"]
        steps, sf = meta["decomposition"], meta["supporting_facts"]
        assert mentions(r["question"], sf["title"][0]), r["question"]
        previous = sf["title"][0]
        for i, (step, title, sent_id) in enumerate(zip(steps, sf["title"], sf["sent_id"])):
            assert title == previous  # each hop reads the document of the entity reached so far
            assert (f"#{i}" in step["question"]) == (i > 0)
            assert mentions(sentence(r, title, sent_id), step["answer"]), (step, title)
            previous = step["answer"]
        assert r["golden_answers"] == [steps[-1]["answer"]]


def test_bridge_chain_is_functional_in_the_world(world: World) -> None:
    """Following each hop over the world's facts yields exactly one entity: the gold one."""
    names = {e.name: e for e in world.entities}
    for q in (q for q in world.questions if q.type == "bridge"):
        here = world.by_id[q.entities[0]]
        for key, (_, answer) in zip(q.relations, q.decomposition):
            if key.startswith("@"):
                assert format_value(key[1:], here.attrs[key[1:]]) == answer
                continue
            if key.startswith("~"):
                found = [e for e in world.entities if e.rels.get(key[1:]) == here.id]
            else:
                found = [world.by_id[here.rels[key]]]
            assert [e.name for e in found] == [answer], (q.text, key)
            here = names[answer]


def test_comparison_answer_follows_from_the_sub_answers(files: dict[str, str]) -> None:
    comparisons = [
        r for r in records(files, "dev", "test") if r["metadata"]["type"] == "comparison"
    ]
    assert {r["golden_answers"][0] for r in comparisons} >= {"yes", "no"}
    for r in comparisons:
        meta = r["metadata"]
        (a, b), titles = meta["decomposition"], meta["supporting_facts"]["title"]
        assert all(mentions(r["question"], t) for t in titles)
        for step, title, sent_id in zip((a, b), titles, meta["supporting_facts"]["sent_id"]):
            assert mentions(sentence(r, title, sent_id), step["answer"])
        gold = r["golden_answers"][0]
        if gold in ("yes", "no"):
            assert (a["answer"] == b["answer"]) == (gold == "yes")
            continue
        va, vb = (int(s["answer"].replace(",", "")) for s in (a, b))
        assert va != vb
        larger = "population" in meta["relations"][0]
        winner = titles[0] if (va > vb) == larger else titles[1]
        assert gold == winner, r["question"]


def test_intersection_answer_is_the_only_entity_with_both_facets(world: World) -> None:
    inters = [q for q in world.questions if q.type == "intersection"]
    assert inters

    def value(e, facet):  # type: ignore[no-untyped-def]
        if facet in e.rels:
            return world.by_id[e.rels[facet]].name
        return format_value(facet, e.attrs[facet]) if facet in e.attrs else None

    for q in inters:
        answer = world.by_id[q.entities[0]]
        f1, f2 = q.relations
        v1, v2 = value(answer, f1), value(answer, f2)
        same_kind = [e for e in world.entities if e.kind == answer.kind]
        first = [e.name for e in same_kind if value(e, f1) == v1]
        both = [e.name for e in same_kind if value(e, f1) == v1 and value(e, f2) == v2]
        assert both == [answer.name] == [q.answer]
        assert 2 <= len(first) <= 5
        assert q.decomposition[0][1].split("; ") == first
        assert mentions(q.text, v1) and mentions(q.text, v2)
        # every candidate's document is cited, so the answer can be checked from the sentences
        assert {world.by_id[e].name for e, _ in q.support} == set(first)


def test_documents_state_every_fact_they_are_cited_for(world: World) -> None:
    for e in world.entities:
        doc = world.documents[e.id]
        for key, i in doc.fact_sentence.items():
            text = doc.sentences[i]
            if key.startswith("~"):
                others = [s for s in world.entities if s.rels.get(key[1:]) == e.id]
                assert len(others) == 1 and mentions(text, others[0].name), (key, text)
            elif key in RELATIONS or key in HELDOUT_RELATIONS:
                assert mentions(text, world.by_id[e.rels[key]].name), (key, text)
            else:
                assert mentions(text, format_value(key, e.attrs[key])), (key, text)


def test_names_are_unique_and_never_contain_one_another(world: World) -> None:
    names = [e.name for e in world.entities]
    assert len(set(names)) == len(names)
    token_sets = [tuple(n.lower().split()) for n in names]
    full = set(token_sets)
    for tokens in token_sets:
        parts = {tokens[i:j] for i in range(len(tokens)) for j in range(i + 1, len(tokens) + 1)}
        assert (parts - {tokens}).isdisjoint(full), tokens


# -- format --------------------------------------------------------------------------------------


def test_records_are_flashrag_style(files: dict[str, str]) -> None:
    for r in records(files, "dev", "test"):
        assert set(r) == {"id", "question", "golden_answers", "metadata"}
        assert r["golden_answers"] and all(isinstance(a, str) and a for a in r["golden_answers"])
        meta = r["metadata"]
        assert {"type", "hops", "decomposition", "supporting_facts", "context"} <= set(meta)
        sf, ctx = meta["supporting_facts"], meta["context"]
        assert len(sf["title"]) == len(sf["sent_id"]) > 0
        assert len(ctx["title"]) == len(ctx["sentences"]) == len(set(ctx["title"]))
        assert len(ctx["title"]) == len(set(sf["title"])) + SETTINGS.distractors
        for title, sent_id in zip(sf["title"], sf["sent_id"]):
            assert 0 <= sent_id < len(ctx["sentences"][ctx["title"].index(title)])
        assert all(isinstance(d["question"], str) and d["answer"] for d in meta["decomposition"])


def test_corpus_holds_one_document_per_entity_matching_the_contexts(
    world: World, files: dict[str, str]
) -> None:
    corpus = [json.loads(line) for line in files["corpus.jsonl"].splitlines()]
    assert len(corpus) == len(world.entities)
    assert all(set(d) == {"id", "title", "text"} for d in corpus)
    by_title = {d["title"]: d["text"] for d in corpus}
    assert len(by_title) == len(corpus)
    for r in records(files, "test")[:30]:
        ctx = r["metadata"]["context"]
        for title, sentences in zip(ctx["title"], ctx["sentences"]):
            assert by_title[title] == " ".join(sentences)


def test_world_json_records_settings_and_counts(world: World, files: dict[str, str]) -> None:
    summary = json.loads(files["world.json"])
    assert summary["seed"] == 7
    assert summary["settings"]["hops"] == [1, 8]
    # a standard world's settings carry no "templates" key, as before held-out templates existed
    assert ("templates" in summary["settings"]) == world.settings.heldout
    assert summary["settings"].get("templates", "standard") == world.settings.templates
    assert summary["counts"]["documents"] == len(world.entities) == 300
    assert summary["counts"]["questions"] == {"dev": 30, "test": 120}


# -- knobs ---------------------------------------------------------------------------------------


def test_confusability_controls_look_alike_names() -> None:
    plain = generate_world(WorldSettings(seed=3, entities=150, questions=10, confusability=0.0))
    tricky = generate_world(WorldSettings(seed=3, entities=150, questions=10, confusability=1.0))
    assert not plain.partners
    assert len(tricky.partners) > 20
    assert any("confused with" in " ".join(d.sentences) for d in tricky.documents.values())


def test_paraphrase_zero_keeps_canonical_phrasing() -> None:
    w = generate_world(WorldSettings(seed=3, entities=150, questions=30, paraphrase=0.0))
    for e in w.of_kind("person"):
        sentences = w.documents[e.id].sentences
        assert sentences[0] == f"{e.name} (born {e.attrs['birth_year']}) is " + (
            f"{'an' if str(e.attrs['occupation'])[0] in 'aeiou' else 'a'} {e.attrs['occupation']}."
        )
        assert not any(s.startswith(("He ", "She ")) for s in sentences)
    one_hop = [q for q in w.questions if q.type == "bridge" and q.hops == 1]
    assert one_hop and all(q.text == q.decomposition[0][0] for q in one_hop)


# -- invalid settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"hops": (0, 3)}, {"hops": (2, 9)}, {"hops": (5, 2)}, {"types": ("bridge", "chain")},
        {"types": ()}, {"entities": 10}, {"questions": 0}, {"distractors": -1},
        {"dev_fraction": 1.5}, {"confusability": -0.1}, {"paraphrase": 2.0},
        {"templates": "novel"},
    ],
)  # fmt: skip
def test_invalid_settings_raise_config_error(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        WorldSettings(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "x", "0-3", "1-9", "4-2", "1-2-3"])
def test_parse_hops_rejects_bad_ranges(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_hops(text)


def test_parse_hops_and_types_accept_good_values() -> None:
    assert parse_hops("3") == (3, 3)
    assert parse_hops("1-8") == (1, 8)
    assert parse_types("comparison, bridge") == ("comparison", "bridge")
    with pytest.raises(ConfigError, match="unknown question type 'chain'"):
        parse_types("bridge,chain")


def test_too_small_a_world_for_the_questions_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="raise --entities"):
        # an intersection is keyed by its answer and two of at most four facets: < 500 exist
        generate_world(WorldSettings(seed=0, entities=60, questions=500, types=("intersection",)))
