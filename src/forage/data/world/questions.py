"""Questions over a generated world, each with exactly one correct answer.

Three types:

- ``bridge``: a chain of 1-8 hops from a named start entity ("Who founded the studio that produced
  the film directed by Varo Keln's spouse?"). A hop follows a relation forward (always functional)
  or backward only where the object has exactly one subject, so every phrase in the chain names
  one entity; the last hop may ask for an attribute (a year, an occupation, a population).
- ``comparison``: which of two entities is older, earlier or larger, or yes/no whether two share a
  birthplace, university, country or director. Ties are never asked.
- ``intersection``: the one entity of a kind with two given facets ("Which person was born in A and
  studied at B?"); the first facet alone matches 2-5 entities, the second at least 2.

Held-out worlds (``WorldSettings.templates == "heldout"``) phrase everything from their phrasebook
and also compare by, and intersect on, their held-out relations (same mentor, same composer). Their
question ids read ``w{seed}h_...`` so they never clash with the standard world of that seed.

Gold decompositions are single-fact sub-questions in canonical phrasing (``text.subquestion``: the
standard forms in every world); ``#k`` stands for the answer of sub-question k. ``support`` lists
(entity id, sentence index) pairs: for a bridge, one per hop, in the document of the entity the hop
starts from. Dev and test questions start from (compare, answer with) disjoint sets of entities.
Not here: phrasing tables (``text``, ``heldout``), the file format (``export``).
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from forage.core.errors import ConfigError
from forage.data.world.text import (
    NOUNS,
    STANDARD,
    Phrasebook,
    ask,
    clause,
    format_value,
    intersect_ask,
    intersect_steps,
    noun_phrase,
    pick,
    subquestion,
)

if TYPE_CHECKING:
    from forage.data.world.model import Entity, World

logger = logging.getLogger(__name__)

QUESTION_TYPES = ("bridge", "comparison", "intersection")
SPLITS = ("dev", "test")
_ATTEMPTS = 400
_WORKS = ("film", "book", "album")
_ORGS = ("studio", "university", "publisher", "label", "company")
# (facet, kinds, mode): "min"/"max" compare a number; "same" asks yes/no about a relation.
_COMPARISONS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("birth_year", ("person",), "min"),
    ("born_in", ("person",), "same"),
    ("release_year", _WORKS, "min"),
    ("population", ("city", "island", "country"), "max"),
    ("located_in", ("city",), "same"),
    ("founded_year", _ORGS, "min"),
    ("studied_at", ("person",), "same"),
    ("directed_by", ("film",), "same"),
)
_FACETS: Mapping[str, tuple[str, ...]] = {
    "person": ("born_in", "studied_at", "occupation"),
    "film": ("directed_by", "produced_by", "release_year", "filmed_on"),
    "book": ("written_by", "published_by", "release_year"),
    "album": ("recorded_by", "released_by", "release_year"),
    "city": ("located_in", "founded_year"),
    "university": ("campus_in", "founded_year"),
    **{
        k: ("headquartered_in", "founded_year") for k in ("studio", "publisher", "label", "company")
    },
}
# Held-out worlds only (``WorldSettings.templates == "heldout"``): their relations' comparisons,
# after the standard ones, and intersection facets, after each kind's standard facets.
_HELDOUT_COMPARISONS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("mentored_by", ("person",), "same"),
    ("scored_by", ("film",), "same"),
)
_HELDOUT_FACETS: Mapping[str, tuple[str, ...]] = {
    "person": ("mentored_by",), "film": ("scored_by",), "book": ("illustrated_by",),
    **{k: ("chaired_by",) for k in _ORGS},
}  # fmt: skip


@dataclass(frozen=True)
class WorldQuestion:
    """One generated question; ``context`` holds entity ids of supporting and distractor docs."""

    id: str
    split: str
    type: str
    hops: int
    text: str
    answer: str
    decomposition: tuple[tuple[str, str], ...]
    support: tuple[tuple[str, int], ...]
    context: tuple[str, ...]
    relations: tuple[str, ...]
    entities: tuple[str, ...]


@dataclass(frozen=True)
class _Draft:
    type: str
    hops: int
    text: str
    answer: str
    decomposition: tuple[tuple[str, str], ...]
    support: tuple[tuple[str, int], ...]
    relations: tuple[str, ...]
    entities: tuple[str, ...]
    key: tuple[str, ...]


def generate_questions(
    world: World, rng: random.Random, book: Phrasebook = STANDARD
) -> tuple[WorldQuestion, ...]:
    """All questions of both splits, in split order (dev first), phrased from ``book``."""
    s = world.settings
    builder = _Builder(world, rng, book)
    pools = _split_pools(world, rng)
    n_dev = round(s.questions * s.dev_fraction)
    wanted = {"dev": n_dev, "test": s.questions - n_dev}
    out: list[WorldQuestion] = []
    for split in SPLITS:
        counters = dict.fromkeys(QUESTION_TYPES, 0)
        for i in range(wanted[split]):
            qtype = s.types[i % len(s.types)]
            slot = counters[qtype]
            counters[qtype] += 1
            draft = builder.build(qtype, slot, pools[split])
            if draft is None:
                what = f"{_bridge_hops(s.hops, slot)}-hop bridge" if qtype == "bridge" else qtype
                raise ConfigError(
                    f"could not build a unique {what} question for the {split} split from "
                    f"{s.entities} entities; raise --entities or ask for fewer or shorter questions"
                )
            out.append(_finish(world, draft, split, len(out), rng))
    return tuple(out)


def _bridge_hops(hops: tuple[int, int], slot: int) -> int:
    lo, hi = hops
    return lo + slot % (hi - lo + 1)


def _split_pools(world: World, rng: random.Random) -> dict[str, list[str]]:
    """Each kind's entities, shuffled, the first ``dev_fraction`` of them for dev questions."""
    pools: dict[str, list[str]] = {"dev": [], "test": []}
    kinds = list(dict.fromkeys(e.kind for e in world.entities))
    for kind in kinds:
        ids = [e.id for e in world.entities if e.kind == kind]
        rng.shuffle(ids)
        cut = math.ceil(len(ids) * world.settings.dev_fraction)
        pools["dev"] += ids[:cut]
        pools["test"] += ids[cut:]
    return pools


def _value(entity: Entity, world: World, facet: str) -> str | None:
    """A facet's value as text: a related entity's name or a formatted attribute."""
    if facet in entity.rels:
        return world.by_id[entity.rels[facet]].name
    if facet in entity.attrs:
        return format_value(facet, entity.attrs[facet])
    return None


class _Builder:
    """Makes drafts; remembers used keys and texts so no question repeats across splits."""

    def __init__(self, world: World, rng: random.Random, book: Phrasebook) -> None:
        self.world = world
        self.rng = rng
        self.book = book
        self.v = world.settings.paraphrase
        self.comparisons = _COMPARISONS
        self.facets = _FACETS
        if world.settings.heldout:
            self.comparisons = _COMPARISONS + _HELDOUT_COMPARISONS
            self.facets = {k: v + _HELDOUT_FACETS.get(k, ()) for k, v in _FACETS.items()}
        self.used_keys: set[tuple[str, ...]] = set()
        self.used_texts: set[str] = set()
        self.used_starts: set[str] = set()
        self.edges: dict[str, list[tuple[str, str]]] = {
            e.id: list(e.rels.items()) for e in world.entities
        }
        for (rel, obj), subs in world.subjects.items():
            if len(subs) == 1 and rel != "spouse":
                self.edges[obj].append(("~" + rel, subs[0]))
        self.facet_index: dict[tuple[str, str, str], list[str]] = {}
        for e in world.entities:
            for facet in self.facets.get(e.kind, ()):
                value = _value(e, world, facet)
                if value is not None:
                    self.facet_index.setdefault((e.kind, facet, value), []).append(e.id)

    def build(self, qtype: str, slot: int, pool: Sequence[str]) -> _Draft | None:
        if not pool:
            return None
        for attempt in range(_ATTEMPTS):
            if qtype == "bridge":
                draft = self._bridge(_bridge_hops(self.world.settings.hops, slot), pool, attempt)
            elif qtype == "comparison":
                spec = self.comparisons[(slot + attempt // 40) % len(self.comparisons)]
                draft = self._comparison(spec, pool)
            else:
                draft = self._intersection(pool)
            if draft and draft.key not in self.used_keys and draft.text not in self.used_texts:
                self.used_keys.add(draft.key)
                self.used_texts.add(draft.text)
                self.used_starts.add(draft.entities[0])
                return draft
        return None

    # -- bridge ----------------------------------------------------------------------------------

    def _walk(self, start: str, hops: int) -> list[tuple[str, str]] | None:
        """A random path of ``hops`` steps without revisits; the last may be an attribute."""
        budget = [300]

        def step(node: str, left: int, seen: set[str]) -> list[tuple[str, str]] | None:
            budget[0] -= 1
            if budget[0] < 0:
                return None
            entity = self.world.by_id[node]
            if left == 1:
                attrs = [("@" + a, node) for a in entity.attrs if a != "gender"]
                if attrs and self.rng.random() < 0.3:
                    return [attrs[self.rng.randrange(len(attrs))]]
            options = [(k, t) for k, t in self.edges[node] if t not in seen]
            self.rng.shuffle(options)
            for key, target in options:
                if left == 1:
                    return [(key, target)]
                rest = step(target, left - 1, seen | {target})
                if rest is not None:
                    return [(key, target), *rest]
            return None

        return step(start, hops, {start})

    def _bridge(self, hops: int, pool: Sequence[str], attempt: int) -> _Draft | None:
        start = pool[self.rng.randrange(len(pool))]
        if start in self.used_starts and attempt < _ATTEMPTS // 2:
            return None
        path = self._walk(start, hops)
        if path is None:
            return None
        world, rng, book = self.world, self.rng, self.book
        chain = [world.by_id[start]] + [world.by_id[t] for _, t in path]
        phrase = chain[0].name
        for i, (key, _) in enumerate(path[:-1]):
            phrase = noun_phrase(key, phrase, self._noun(chain[i + 1]), i, rng, self.v, book)
        last_key = path[-1][0]
        noun = self._noun(chain[-1])
        text = ask(last_key, chain[-2].kind, phrase, noun, rng, self.v, len(path) - 1, book)
        steps, support = [], []
        for i, (key, _) in enumerate(path):
            here = chain[i]
            x = here.name if i == 0 else f"#{i}"
            question = subquestion(key, here.kind, x, NOUNS[chain[i + 1].kind], book)
            if key.startswith("@"):
                answer = format_value(key[1:], here.attrs[key[1:]])
            else:
                answer = chain[i + 1].name
            steps.append((question, answer))
            support.append((here.id, world.documents[here.id].fact_sentence[key.lstrip("@")]))
        return _Draft(
            "bridge", hops, text, steps[-1][1], tuple(steps), tuple(support),
            tuple(k for k, _ in path), tuple(dict.fromkeys(e.id for e in chain)),
            ("bridge", start, *(k for k, _ in path)),
        )  # fmt: skip

    def _noun(self, entity: Entity) -> str:
        if entity.kind == "person" and self.rng.random() < 0.5:
            return str(entity.attrs["occupation"])
        return NOUNS[entity.kind]

    # -- comparison ------------------------------------------------------------------------------

    def _comparison(
        self, spec: tuple[str, tuple[str, ...], str], pool: Sequence[str]
    ) -> _Draft | None:
        facet, kinds, mode = spec
        world, rng = self.world, self.rng
        kind = kinds[rng.randrange(len(kinds))]
        members = [
            i for i in pool if world.by_id[i].kind == kind and _value(world.by_id[i], world, facet)
        ]
        if len(members) < 2:
            return None
        if mode == "same" and rng.random() < 0.5:  # look for a "yes"
            groups: dict[str, list[str]] = {}
            for i in members:
                groups.setdefault(str(_value(world.by_id[i], world, facet)), []).append(i)
            shared = [g for g in groups.values() if len(g) >= 2]
            if not shared:
                return None
            a_id, b_id = rng.sample(shared[rng.randrange(len(shared))], 2)
        else:
            a_id, b_id = rng.sample(members, 2)
        a, b = world.by_id[a_id], world.by_id[b_id]
        va, vb = _value(a, world, facet), _value(b, world, facet)
        assert va is not None and vb is not None
        if mode == "same":
            answer = "yes" if va == vb else "no"
        else:
            na, nb = int(a.attrs[facet]), int(b.attrs[facet])
            if na == nb:
                return None
            answer = a.name if (na < nb) == (mode == "min") else b.name
        template = pick(self.book.compare_asks[facet], rng, self.v)
        text = template.format(a=a.name, b=b.name, noun=NOUNS[kind])
        key = facet if facet in a.rels else "@" + facet
        steps = tuple(
            (subquestion(key, kind, e.name, NOUNS[kind], self.book), v)
            for e, v in ((a, va), (b, vb))
        )
        support = tuple((e.id, world.documents[e.id].fact_sentence[facet]) for e in (a, b))
        return _Draft(
            "comparison", 2, text, answer, steps, support, (key, key), (a_id, b_id),
            ("comparison", facet, *sorted((a_id, b_id))),
        )  # fmt: skip

    # -- intersection ----------------------------------------------------------------------------

    def _intersection(self, pool: Sequence[str]) -> _Draft | None:
        world, rng = self.world, self.rng
        answer = world.by_id[pool[rng.randrange(len(pool))]]
        facets = [
            f for f in self.facets.get(answer.kind, ()) if _value(answer, world, f) is not None
        ]
        if len(facets) < 2:
            return None
        f1, f2 = rng.sample(facets, 2)
        v1, v2 = _value(answer, world, f1), _value(answer, world, f2)
        assert v1 is not None and v2 is not None
        first = self.facet_index[(answer.kind, f1, v1)]
        second = self.facet_index[(answer.kind, f2, v2)]
        if not 2 <= len(first) <= 5 or len(second) < 2 or len(set(first) & set(second)) != 1:
            return None
        c1, c2 = clause(f1, v1, self.book), clause(f2, v2, self.book)
        text = intersect_ask(answer.kind, c1, c2, rng, self.v, self.book)
        q1, q2 = intersect_steps(
            answer.kind, clause(f1, v1, self.book, step=True), clause(f2, v2, self.book, step=True)
        )
        names = "; ".join(world.by_id[i].name for i in first)
        support: dict[tuple[str, int], None] = {}
        for i in first:
            facts = world.documents[i].fact_sentence
            for facet in (f1, f2):
                if facet in facts:
                    support[(i, facts[facet])] = None
        return _Draft(
            "intersection", 2, text, answer.name, ((q1, names), (q2, answer.name)),
            tuple(support), (f1, f2), (answer.id, *(i for i in first if i != answer.id)),
            ("intersection", answer.id, *sorted((f1, f2))),
        )  # fmt: skip


def _finish(
    world: World, draft: _Draft, split: str, index: int, rng: random.Random
) -> WorldQuestion:
    """Attach an id and a context: the supporting documents plus distractors, shuffled."""
    support_ids = list(dict.fromkeys(e for e, _ in draft.support))
    taken = set(support_ids)
    related: list[str] = []
    for e in support_ids:
        entity = world.by_id[e]
        for other in (*world.partners.get(e, ()), *entity.rels.values()):
            if other not in taken and other not in related:
                related.append(other)
    rng.shuffle(related)
    wanted = world.settings.distractors
    distractors = related[: math.ceil(wanted / 2)]
    taken.update(distractors)
    everyone = [e.id for e in world.entities]
    while len(distractors) < min(wanted, len(everyone) - len(support_ids)):
        pick_id = everyone[rng.randrange(len(everyone))]
        if pick_id not in taken:
            taken.add(pick_id)
            distractors.append(pick_id)
    context = support_ids + distractors
    rng.shuffle(context)
    return WorldQuestion(
        id=f"{_id_prefix(world)}_{split}_{index}", split=split, type=draft.type,
        hops=draft.hops, text=draft.text, answer=draft.answer, decomposition=draft.decomposition,
        support=draft.support, context=tuple(context), relations=draft.relations,
        entities=draft.entities,
    )  # fmt: skip


def _id_prefix(world: World) -> str:
    """``w7`` for a standard world of seed 7, ``w7h`` for the held-out world of that seed (whose
    questions differ although its entities are the same)."""
    return f"w{world.settings.seed}" + ("h" if world.settings.heldout else "")
