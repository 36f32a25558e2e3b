"""A deterministic fictional encyclopedia with compositional questions: the generated world.

``generate_world(WorldSettings(...))`` builds people, places (cities, countries, islands),
organisations (studios, universities, publishers, record labels, companies) and creative works
(films, books, albums), links them with functional relations (born in, directed by, founded by,
located in, married to, ...), gives them attributes (years, occupations, populations), renders one
document per entity (``forage.data.world.text``) and asks questions with gold answers,
decompositions and supporting sentences (``forage.data.world.questions``). Everything is fictional,
so no model can answer from memory. The same settings give the same world, byte for byte: all
randomness comes from one ``random.Random(seed)`` passed down explicitly.

``templates`` picks the world's phrasing: ``"standard"`` (the default; every training world) or
``"heldout"``, an evaluation world for transfer: its text comes from ``forage.data.world.heldout``
and its people, works and organisations also carry ``HELDOUT_RELATIONS`` (mentors, film
composers, illustrators, chairs), drawn after every standard fact so that its entities, names and
standard facts are those of the standard world of the same seed. What is held out and what is
shared is listed in ``forage.data.world.heldout``.

Not here: phrasing (``text``), question construction (``questions``), file formats
(``export``), writing files (the CLI).
"""

from __future__ import annotations

import bisect
import logging
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace

from forage.core.errors import ConfigError
from forage.data.world.heldout import HELDOUT
from forage.data.world.model import Entity, World
from forage.data.world.names import NameForge
from forage.data.world.questions import QUESTION_TYPES, generate_questions
from forage.data.world.text import STANDARD, Phrasebook, render_document

logger = logging.getLogger(__name__)

MAX_HOPS = 8
MIN_ENTITIES = 60
ORG_KINDS = ("studio", "university", "publisher", "label", "company")
WORK_KINDS = ("film", "book", "album")
PLACE_KINDS = ("city", "country", "island")

# relation -> (subject kinds, object kind). Every relation is functional: one object per subject.
RELATIONS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "born_in": (("person",), "city"),
    "studied_at": (("person",), "university"),
    "spouse": (("person",), "person"),
    "located_in": (("city", "island"), "country"),
    "capital": (("country",), "city"),
    "campus_in": (("university",), "city"),
    "headquartered_in": (("studio", "publisher", "label", "company"), "city"),
    "founded_by": (ORG_KINDS, "person"),
    "directed_by": (("film",), "person"),
    "produced_by": (("film",), "studio"),
    "filmed_on": (("film",), "island"),
    "written_by": (("book",), "person"),
    "published_by": (("book",), "publisher"),
    "recorded_by": (("album",), "person"),
    "released_by": (("album",), "label"),
}
# Relations that only held-out worlds have (see ``_add_heldout_relations``); functional too.
HELDOUT_RELATIONS: Mapping[str, tuple[tuple[str, ...], str]] = {
    "mentored_by": (("person",), "person"),
    "scored_by": (("film",), "person"),
    "illustrated_by": (("book",), "person"),
    "chaired_by": (ORG_KINDS, "person"),
}
# The phrasing a world is written in: WorldSettings.templates names one.
PHRASEBOOKS: Mapping[str, Phrasebook] = {"standard": STANDARD, "heldout": HELDOUT}
# Share of the entities that each kind gets (persons take whatever the others leave).
_SHARES: Mapping[str, float] = {
    "country": 0.04, "city": 0.13, "island": 0.04, "studio": 0.04, "university": 0.04,
    "publisher": 0.03, "label": 0.03, "company": 0.03, "film": 0.10, "book": 0.08, "album": 0.06,
}  # fmt: skip
_CREATOR_JOBS = {"film": ("film director",), "book": ("novelist", "poet"),
                 "album": ("singer", "composer", "pianist")}  # fmt: skip
_OTHER_JOBS = ("painter", "architect", "physicist", "journalist", "entrepreneur", "engineer",
               "actor", "photographer", "historian", "chemist", "sculptor")  # fmt: skip
_CREATOR_REL = {"film": "directed_by", "book": "written_by", "album": "recorded_by"}
_OWNER_REL = {"film": ("produced_by", "studio"), "book": ("published_by", "publisher"),
              "album": ("released_by", "label")}  # fmt: skip


@dataclass(frozen=True)
class WorldSettings:
    """What to generate. Invalid values raise ``ConfigError`` on construction.

    ``hops`` bounds the chain length of bridge questions (comparison and intersection questions
    always take two steps); ``distractors`` is the number of non-supporting documents in each
    question's context; ``confusability`` (0..1) how often names imitate earlier names and
    documents mention their look-alikes; ``paraphrase`` (0..1) how often text leaves the canonical
    phrasing and sentence order; ``dev_fraction`` the share of questions in the dev split;
    ``templates`` the phrasing (``PHRASEBOOKS``): ``"heldout"`` writes an evaluation world whose
    question and fact templates and some relations no standard (training) world has.
    """

    seed: int = 0
    entities: int = 400
    hops: tuple[int, int] = (1, 4)
    types: tuple[str, ...] = QUESTION_TYPES
    questions: int = 200
    distractors: int = 8
    confusability: float = 0.3
    paraphrase: float = 0.5
    dev_fraction: float = 0.2
    templates: str = "standard"

    def __post_init__(self) -> None:
        lo, hi = self.hops
        if not 1 <= lo <= hi <= MAX_HOPS:
            raise ConfigError(f"hops must lie within 1-{MAX_HOPS} with low <= high, got {lo}-{hi}")
        if not self.types:
            raise ConfigError("at least one question type is needed")
        unknown = [t for t in self.types if t not in QUESTION_TYPES]
        if unknown:
            raise ConfigError(
                f"unknown question type {unknown[0]!r}; known: {', '.join(QUESTION_TYPES)}"
            )
        if len(set(self.types)) != len(self.types):
            raise ConfigError("question types must not repeat")
        if self.entities < MIN_ENTITIES:
            raise ConfigError(f"entities must be at least {MIN_ENTITIES}, got {self.entities}")
        if self.questions < 1:
            raise ConfigError(f"questions must be at least 1, got {self.questions}")
        if self.distractors < 0:
            raise ConfigError(f"distractors must be >= 0, got {self.distractors}")
        for name in ("confusability", "paraphrase", "dev_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name.replace('_', '-')} must lie within 0-1, got {value}")
        if self.templates not in PHRASEBOOKS:
            raise ConfigError(
                f"unknown templates {self.templates!r}; known: {', '.join(PHRASEBOOKS)}"
            )

    @property
    def heldout(self) -> bool:
        """Whether this is a held-out-template (evaluation-only) world."""
        return self.templates == "heldout"

    def to_dict(self) -> dict[str, object]:
        """The settings as JSON; ``templates`` only when not standard, so a standard world's
        ``world.json`` keeps the bytes it had before held-out templates existed."""
        out: dict[str, object] = {
            "seed": self.seed, "entities": self.entities, "hops": list(self.hops),
            "types": list(self.types), "questions": self.questions,
            "distractors": self.distractors, "confusability": self.confusability,
            "paraphrase": self.paraphrase, "dev_fraction": self.dev_fraction,
        }  # fmt: skip
        if self.templates != "standard":
            out["templates"] = self.templates
        return out


def parse_hops(text: str) -> tuple[int, int]:
    """'3' -> (3, 3); '1-8' -> (1, 8). Raises ``ConfigError`` on anything else."""
    parts = text.strip().split("-")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"hops must look like 3 or 1-8, got {text!r}") from None
    if len(values) not in (1, 2):
        raise ConfigError(f"hops must look like 3 or 1-8, got {text!r}")
    lo, hi = values[0], values[-1]
    if not 1 <= lo <= hi <= MAX_HOPS:
        raise ConfigError(f"hops must lie within 1-{MAX_HOPS} with low <= high, got {text!r}")
    return lo, hi


def parse_types(text: str) -> tuple[str, ...]:
    """'bridge,comparison' -> ('bridge', 'comparison'). Raises ``ConfigError`` on unknown types."""
    types = tuple(t.strip() for t in text.split(",") if t.strip())
    for t in types:
        if t not in QUESTION_TYPES:
            raise ConfigError(f"unknown question type {t!r}; known: {', '.join(QUESTION_TYPES)}")
    if not types:
        raise ConfigError("at least one question type is needed")
    return tuple(dict.fromkeys(types))


def generate_world(settings: WorldSettings) -> World:
    """Build the world of ``settings``; ``ConfigError`` when its questions cannot be built."""
    rng = random.Random(settings.seed)
    forge = NameForge(rng)
    entities = _build_entities(settings, rng, forge)
    if settings.heldout:
        _add_heldout_relations(entities, rng)
    book = PHRASEBOOKS[settings.templates]
    by_id = {e.id: e for e in entities}
    subjects: dict[tuple[str, str], list[str]] = {}
    for e in entities:
        for rel, obj in e.rels.items():
            subjects.setdefault((rel, obj), []).append(e.id)
    id_of = {e.name: e.id for e in entities}
    partners = {
        id_of[name]: tuple(id_of[o] for o in others if o in id_of)
        for name, others in forge.partners.items()
        if name in id_of
    }
    world = World(
        settings=settings,
        entities=tuple(entities),
        by_id=by_id,
        subjects={k: tuple(v) for k, v in subjects.items()},
        partners={k: v for k, v in partners.items() if v},
    )
    docs = {
        e.id: render_document(e, world, rng, settings.paraphrase, settings.confusability, book)
        for e in entities
    }
    world = replace(world, documents=docs)
    world = replace(world, questions=generate_questions(world, rng, book))
    logger.info(
        "world seed=%d (%s templates): %d entities, %d questions",
        settings.seed,
        settings.templates,
        len(entities),
        len(world.questions),
    )
    return world


def _counts(total: int) -> dict[str, int]:
    counts = {kind: max(2, round(total * share)) for kind, share in _SHARES.items()}
    counts["person"] = total - sum(counts.values())
    return counts


def _round3(value: float) -> int:
    """Round to three significant figures, as populations are usually quoted."""
    digits = max(0, int(math.log10(value)) - 2)
    return int(round(value / 10**digits) * 10**digits)


def _log_uniform(rng: random.Random, lo: float, hi: float) -> int:
    return _round3(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _build_entities(settings: WorldSettings, rng: random.Random, forge: NameForge) -> list[Entity]:
    counts = _counts(settings.entities)
    entities: list[Entity] = []
    names_of: dict[str, list[str]] = {}

    def new(kind: str, **attrs: int | str) -> Entity:
        earlier = names_of.setdefault(kind, [])
        name = None
        if earlier and rng.random() < settings.confusability * 0.5:
            name = forge.confusable(earlier[rng.randrange(len(earlier))])
        if name is None:
            if kind == "person":
                name = forge.person(str(attrs["gender"]))
            elif kind in PLACE_KINDS:
                name = forge.place(kind)
            else:
                name = forge.thing(kind)
        earlier.append(name)
        entity = Entity(f"e{len(entities):05d}", kind, name, dict(attrs))
        entities.append(entity)
        return entity

    countries = [
        new("country", population=_log_uniform(rng, 8e5, 9e7)) for _ in range(counts["country"])
    ]
    cities = []
    for i in range(counts["city"]):
        city = new(
            "city", population=_log_uniform(rng, 4e3, 3e6), founded_year=rng.randint(800, 1880)
        )
        home = countries[i] if i < len(countries) else rng.choice(countries)
        city.rels["located_in"] = home.id
        cities.append(city)
    for country in countries:
        own = [c for c in cities if c.rels["located_in"] == country.id]
        country.rels["capital"] = max(own, key=lambda c: int(c.attrs["population"])).id
    for _ in range(counts["island"]):
        island = new("island", population=_log_uniform(rng, 150, 4e5))
        island.rels["located_in"] = rng.choice(countries).id

    creators = _plan_jobs(counts, rng)
    people = []
    for job in creators:
        gender = rng.choice(("female", "male"))
        person = new("person", gender=gender, birth_year=rng.randint(1890, 1995), occupation=job)
        person.rels["born_in"] = rng.choice(cities).id
        people.append(person)

    orgs: dict[str, list[Entity]] = {}
    founders = list(people)
    rng.shuffle(founders)
    founders.sort(key=lambda p: p.attrs["occupation"] != "entrepreneur")  # stable: keeps shuffle
    org_index = 0
    for kind in ORG_KINDS:
        for _ in range(counts[kind]):
            founder = founders[org_index % len(founders)]
            org_index += 1
            year = min(2022, int(founder.attrs["birth_year"]) + rng.randint(24, 60))
            org = new(kind, founded_year=year)
            org.rels["founded_by"] = founder.id
            org.rels["campus_in" if kind == "university" else "headquartered_in"] = rng.choice(
                cities
            ).id
            orgs.setdefault(kind, []).append(org)

    universities = orgs["university"]
    for person in people:
        if rng.random() < 0.75:
            person.rels["studied_at"] = rng.choice(universities).id
    singles = list(people)
    rng.shuffle(singles)
    for a, b in zip(singles[0::2], singles[1::2], strict=False):
        if rng.random() < 0.5:
            a.rels["spouse"], b.rels["spouse"] = b.id, a.id

    islands = [e for e in entities if e.kind == "island"]
    for kind in WORK_KINDS:
        makers = [p for p in people if p.attrs["occupation"] in _CREATOR_JOBS[kind]] or people
        for i in range(counts[kind]):
            maker = makers[i] if i < len(makers) else rng.choice(makers)
            year = min(2023, int(maker.attrs["birth_year"]) + rng.randint(22, 65))
            work = new(kind, release_year=year)
            work.rels[_CREATOR_REL[kind]] = maker.id
            owner_rel, owner_kind = _OWNER_REL[kind]
            work.rels[owner_rel] = rng.choice(orgs[owner_kind]).id
            if kind == "film" and rng.random() < 0.35:
                work.rels["filmed_on"] = rng.choice(islands).id
    return entities


def _plan_jobs(counts: Mapping[str, int], rng: random.Random) -> list[str]:
    """One occupation per person: enough creators for the works (about 1.5 works each), and
    other occupations for the rest."""
    jobs: list[str] = []
    for kind in WORK_KINDS:
        needed = math.ceil(counts[kind] / 1.5)
        jobs += [rng.choice(_CREATOR_JOBS[kind]) for _ in range(needed)]
    jobs = jobs[: counts["person"]]
    jobs += [rng.choice(_OTHER_JOBS) for _ in range(counts["person"] - len(jobs))]
    rng.shuffle(jobs)
    return jobs


def _add_heldout_relations(entities: list[Entity], rng: random.Random) -> None:
    """Give a held-out world its ``HELDOUT_RELATIONS``: a mentor at least 15 years older for
    about half of the people, a composer for most films, an illustrator (a painter or
    photographer) for half of the books, a chair other than the founder for most organisations."""
    people = [e for e in entities if e.kind == "person"]
    by_age = sorted(people, key=lambda p: (int(p.attrs["birth_year"]), p.id))
    years = [int(p.attrs["birth_year"]) for p in by_age]

    def doing(*jobs: str) -> list[Entity]:
        return [p for p in people if p.attrs["occupation"] in jobs] or people

    for person in people:
        elders = bisect.bisect_right(years, int(person.attrs["birth_year"]) - 15)
        if elders and rng.random() < 0.5:
            person.rels["mentored_by"] = by_age[rng.randrange(elders)].id
    composers, artists = doing("composer", "pianist", "singer"), doing("painter", "photographer")
    for work in entities:
        if work.kind == "film" and rng.random() < 0.7:
            work.rels["scored_by"] = rng.choice(composers).id
        elif work.kind == "book" and rng.random() < 0.5:
            candidates = [p for p in artists if p.id != work.rels["written_by"]] or people
            work.rels["illustrated_by"] = rng.choice(candidates).id
        elif work.kind in ORG_KINDS and rng.random() < 0.6:
            chair = rng.choice(people)
            if chair.id != work.rels["founded_by"]:
                work.rels["chaired_by"] = chair.id
