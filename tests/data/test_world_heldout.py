"""Held-out-template worlds: their phrasing and relations never occur in standard worlds, and theirs
never use the standard phrasing; entities, names and gold sub-questions stay shared."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

import pytest

from forage.data.world import World, WorldSettings, generate_world
from forage.data.world.build import HELDOUT_RELATIONS, RELATIONS
from forage.data.world.heldout import HELDOUT
from forage.data.world.text import STANDARD, Phrasebook

SIZE = {"entities": 300, "questions": 300, "hops": (1, 6), "paraphrase": 1.0}
STANDARD_SEEDS = (0, 1, 2, 5)


def _regex(template: str) -> str:
    parts = re.split(r"\{[a-z_0-9]+\}", template[0].lower() + template[1:])
    return ".+".join(re.escape(p) for p in parts)


def matcher(templates: Iterable[str]) -> re.Pattern[str]:
    """Matches a text (first letter in any case) written from any of ``templates``."""
    return re.compile("|".join(f"(?:{_regex(t)})" for t in sorted(set(templates))))


def full(pattern: re.Pattern[str], text: str) -> bool:
    return pattern.fullmatch(text[0].lower() + text[1:]) is not None


def documents(book: Phrasebook) -> list[str]:
    tables = (book.intros, book.attr_facts, book.facts, book.inverse_facts, book.fillers)
    return [t for table in tables for ts in table.values() for t in ts] + list(book.confusions)


def questions(book: Phrasebook) -> list[str]:
    return [t for ts in (*book.asks.values(), *book.compare_asks.values()) for t in ts] + [
        *book.intersect_asks, *book.intersect_person_asks
    ]  # fmt: skip


def phrases(book: Phrasebook) -> list[str]:
    """The pieces questions are built from: noun phrases, possessives, intersection clauses."""
    return [t for ts in book.nps.values() for t in ts] + [
        *book.possessives.values(), *book.clauses.values()
    ]  # fmt: skip


HELDOUT_ONLY_SUBQUESTIONS = [v for k, v in HELDOUT.subquestions.items()
                             if k not in STANDARD.subquestions]  # fmt: skip


@cache
def world(seed: int, templates: str) -> World:
    settings = WorldSettings(seed=seed, templates=templates, **SIZE)  # type: ignore[arg-type]
    return generate_world(settings)


def sentences(w: World) -> list[str]:
    return [s for d in w.documents.values() for s in d.sentences]


# -- the tables ----------------------------------------------------------------------------------


def test_no_heldout_template_is_a_standard_one() -> None:
    for kind in (documents, questions, phrases):
        assert not set(kind(HELDOUT)) & set(kind(STANDARD)), kind.__name__
    assert not set(HELDOUT_RELATIONS) & set(RELATIONS)


def test_heldout_tables_cover_every_hop_and_kind_the_standard_ones_do() -> None:
    for name in ("intros", "facts", "inverse_facts", "attr_facts", "fillers", "subject_refs",
                 "nps", "asks", "compare_asks", "clauses"):  # fmt: skip
        assert set(getattr(STANDARD, name)) <= set(getattr(HELDOUT, name)), name
    for rel in HELDOUT_RELATIONS:
        assert {rel, "~" + rel} <= set(HELDOUT.asks) & set(HELDOUT.nps) & set(HELDOUT.subquestions)
        assert rel in HELDOUT.facts and rel in HELDOUT.inverse_facts and rel in HELDOUT.clauses


def test_gold_subquestions_of_standard_hops_are_the_standard_canonical_ones() -> None:
    assert {k: HELDOUT.subquestions[k] for k in STANDARD.subquestions} == dict(
        STANDARD.subquestions
    )
    assert {k: HELDOUT.step_clauses[k] for k in STANDARD.step_clauses} == dict(
        STANDARD.step_clauses
    )


# -- standard worlds -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", STANDARD_SEEDS)
def test_standard_worlds_never_contain_heldout_relations_or_templates(seed: int) -> None:
    w = world(seed, "standard")
    assert not any(rel in HELDOUT_RELATIONS for e in w.entities for rel in e.rels)
    assert not any(k.lstrip("~") in HELDOUT_RELATIONS for q in w.questions for k in q.relations)
    docs, asks = matcher(documents(HELDOUT)), matcher(questions(HELDOUT))
    parts, subs = matcher(phrases(HELDOUT)), matcher(HELDOUT_ONLY_SUBQUESTIONS)
    assert not [s for s in sentences(w) if full(docs, s)]
    assert not [q.text for q in w.questions if full(asks, q.text)]
    assert not [q.text for q in w.questions if parts.search(q.text)]
    assert not [s for q in w.questions for s, _ in q.decomposition if full(subs, s)]


# -- held-out worlds -----------------------------------------------------------------------------


def test_heldout_world_speaks_only_in_heldout_templates() -> None:
    w = world(3, "heldout")
    held_docs, held_asks = matcher(documents(HELDOUT)), matcher(questions(HELDOUT))
    std_docs, std_asks = matcher(documents(STANDARD)), matcher(questions(STANDARD))
    assert all(full(held_docs, s) for s in sentences(w))
    assert all(full(held_asks, q.text) for q in w.questions)
    assert not [s for s in sentences(w) if full(std_docs, s)]
    assert not [q.text for q in w.questions if full(std_asks, q.text)]
    # a whole question is never one of its own gold sub-questions
    assert not [q.text for q in w.questions if q.text in {s for s, _ in q.decomposition}]


def test_heldout_relations_exist_and_appear_in_question_chains() -> None:
    w = world(3, "heldout")
    held = {rel for e in w.entities for rel in e.rels if rel in HELDOUT_RELATIONS}
    asked = {k.lstrip("~") for q in w.questions for k in q.relations}
    assert held == set(HELDOUT_RELATIONS)
    assert set(HELDOUT_RELATIONS) <= asked
    bridges = [q for q in w.questions if q.type == "bridge" and q.hops >= 2]
    assert any({k.lstrip("~") for k in q.relations} & set(HELDOUT_RELATIONS) for q in bridges)
    canonical = matcher(HELDOUT_ONLY_SUBQUESTIONS)
    assert any(full(canonical, s) for q in w.questions for s, _ in q.decomposition)


def test_heldout_world_has_the_entities_and_standard_facts_of_the_standard_world() -> None:
    std, held = world(3, "standard"), world(3, "heldout")
    assert [(e.id, e.kind, e.name, e.attrs) for e in std.entities] == [
        (e.id, e.kind, e.name, e.attrs) for e in held.entities
    ]  # fmt: skip
    for a, b in zip(std.entities, held.entities):
        assert {k: v for k, v in b.rels.items() if k in RELATIONS} == a.rels
    assert {q.id.split("_")[0] for q in held.questions} == {"w3h"}
    assert not {q.id for q in std.questions} & {q.id for q in held.questions}


def test_mentors_are_at_least_fifteen_years_older_and_chairs_are_not_founders() -> None:
    w = world(3, "heldout")
    for e in w.entities:
        if "mentored_by" in e.rels:
            mentor = w.by_id[e.rels["mentored_by"]]
            assert int(mentor.attrs["birth_year"]) <= int(e.attrs["birth_year"]) - 15
        if "chaired_by" in e.rels:
            assert e.rels["chaired_by"] != e.rels["founded_by"]
        for rel in HELDOUT_RELATIONS.keys() & e.rels.keys():
            kinds, obj = HELDOUT_RELATIONS[rel]
            assert e.kind in kinds and w.by_id[e.rels[rel]].kind == obj
