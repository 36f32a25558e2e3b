"""Natural-language surface of the generated world: documents and question phrasings.

Templates for every relation and attribute, in several phrasings each: the sentences that state a
fact in a document (from the subject's side and, for relations with a single subject, from the
object's side), the noun phrases and questions that ask about it. ``render_document`` turns one
entity into its document and records which sentence states which fact, so questions can cite
sentence ids. The ``paraphrase`` knob (0..1) is the chance of leaving the first, canonical phrasing.

A ``Phrasebook`` bundles every table; ``STANDARD`` (the tables below) writes training worlds and
in-template evaluation worlds. Every function takes the phrasebook to write from, ``STANDARD`` by
default. Gold sub-questions (``subquestion``) and the intersection steps' clauses are the standard
canonical forms in every phrasebook.

Not here: which entities and facts exist (``forage.data.world``), which questions are asked
(``forage.data.world.questions``), the held-out phrasebook (``forage.data.world.heldout``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from forage.core.types import Document

if TYPE_CHECKING:
    from forage.data.world.model import Entity, World

NOUNS: Mapping[str, str] = {
    "person": "person", "city": "city", "country": "country", "island": "island",
    "studio": "studio", "university": "university", "publisher": "publisher",
    "label": "record label", "company": "company", "film": "film", "book": "book", "album": "album",
}  # fmt: skip

# -- documents -----------------------------------------------------------------------------------
# {n}: the entity's full name; {s}: a sentence-initial reference (name, surname, pronoun, "The
# film"); {p}: possessive pronoun; {o}: the object's name; {x}: the other entity's name.

_INTROS: Mapping[str, tuple[str, ...]] = {
    "person": ("{n} (born {birth_year}) is {a_occupation}.",
               "{n} is {a_occupation} born in {birth_year}.",
               "Born in {birth_year}, {n} is {a_occupation}."),
    "city": ("{n} is a city with a population of {population}.",
             "{n} is a city that is home to {population} people."),
    "country": ("{n} is a country with a population of {population}.",
                "{n} is a nation of {population} people."),
    "island": ("{n} is an island with a population of {population}.",
               "{n} is an island that is home to {population} people."),
    "studio": ("{n} is a film studio founded in {founded_year}.",
               "Founded in {founded_year}, {n} is a film production company."),
    "university": ("{n} is a university founded in {founded_year}.",
                   "{n} is a public research university established in {founded_year}."),
    "publisher": ("{n} is a publishing house founded in {founded_year}.",
                  "Founded in {founded_year}, {n} is a book publisher."),
    "label": ("{n} is a record label founded in {founded_year}.",
              "{n} is an independent record label, founded in {founded_year}."),
    "company": ("{n} is a company founded in {founded_year}.",
                "{n} is a manufacturing company established in {founded_year}."),
    "film": ("{n} is a {release_year} film.", "{n} is a feature film released in {release_year}.",
             "{n} is a drama film that premiered in {release_year}."),
    "book": ("{n} is a novel first published in {release_year}.", "{n} is a {release_year} novel."),
    "album": ("{n} is a studio album released in {release_year}.",
              "{n} is a {release_year} album."),
}  # fmt: skip
INTRO_ATTRS: Mapping[str, tuple[str, ...]] = {
    "person": ("birth_year", "occupation"), "city": ("population",), "country": ("population",),
    "island": ("population",), "film": ("release_year",), "book": ("release_year",),
    "album": ("release_year",), "studio": ("founded_year",), "university": ("founded_year",),
    "publisher": ("founded_year",), "label": ("founded_year",), "company": ("founded_year",),
}  # fmt: skip
_ATTR_FACTS: Mapping[str, tuple[str, ...]] = {
    "founded_year": ("{s} was founded in {v}.", "{s} dates back to {v}, when it was founded.",
                     "The settlement that became {n} was founded in {v}."),
}  # fmt: skip

_FACTS: Mapping[str, tuple[str, ...]] = {
    "born_in": ("{s} was born in {o}.", "{s} was born in the city of {o}.",
                "{n}'s birthplace is {o}.", "{o} is the birthplace of {n}."),
    "studied_at": ("{s} studied at {o}.", "{s} is a graduate of {o}.",
                   "{s} received {p} education at {o}.", "{s} attended {o}."),
    "spouse": ("{s} is married to {o}.", "{s} married {o}.", "{n}'s spouse is {o}.",
               "{s} and {o} are married."),
    "located_in": ("{s} is located in {o}.", "{s} lies in {o}.", "{s} is part of {o}."),
    "capital": ("The capital of {n} is {o}.", "{s} has its capital at {o}.",
                "{o} is the capital of {n}."),
    "campus_in": ("{s} is located in {o}.", "{s} has its main campus in {o}.",
                  "{s} is based in {o}."),
    "headquartered_in": ("{s} is headquartered in {o}.", "{s} is based in {o}.",
                         "{s} has its headquarters in {o}."),
    "founded_by": ("{s} was founded by {o}.", "{o} founded {n}.", "{s} was established by {o}."),
    "directed_by": ("{s} was directed by {o}.", "{o} directed {n}.", "The director of {n} is {o}."),
    "produced_by": ("{s} was produced by {o}.", "{o} produced {n}.",
                    "{s} is a production of {o}."),
    "filmed_on": ("{s} was filmed on {o}.", "Most of {n} was shot on {o}.",
                  "{s} was shot on location on {o}."),
    "written_by": ("{s} was written by {o}.", "{o} wrote {n}.", "{s} is a novel by {o}."),
    "published_by": ("{s} was published by {o}.", "{o} published {n}.",
                     "{s} was brought out by {o}."),
    "recorded_by": ("{s} was recorded by {o}.", "{s} is an album by {o}.", "{o} recorded {n}."),
    "released_by": ("{s} was released by {o}.", "{o} released {n}.", "{s} came out on {o}."),
}  # fmt: skip
# The object's side of a relation, stated in the object's document when it has a single subject.
_INVERSE_FACTS: Mapping[str, tuple[str, ...]] = {
    "born_in": ("{x} was born in {n}.", "{s} is the birthplace of {x}."),
    "studied_at": ("{x} studied at {n}.", "{s} counts {x} among its graduates."),
    "located_in": ("{x} is located in {n}.", "{s} is home to {x}."),
    "capital": ("{s} is the capital of {x}.", "{s} serves as the capital of {x}."),
    "campus_in": ("{s} is home to {x}.", "{x} is located in {n}."),
    "headquartered_in": ("{s} is home to the headquarters of {x}.", "{x} is headquartered in {n}."),
    "founded_by": ("{s} founded {x}.", "{s} is the founder of {x}."),
    "directed_by": ("{s} directed the film {x}.", "{s} is the director of {x}."),
    "produced_by": ("{s} produced the film {x}.", "{x} was produced by {n}."),
    "filmed_on": ("The film {x} was shot on {n}.", "{x} was filmed on {n}."),
    "written_by": ("{s} wrote the novel {x}.", "{s} is the author of {x}."),
    "published_by": ("{s} published the novel {x}.", "{x} was published by {n}."),
    "recorded_by": ("{s} recorded the album {x}.", "{x} is an album by {n}."),
    "released_by": ("{s} released the album {x}.", "{x} came out on {n}."),
}  # fmt: skip
_FILLERS: Mapping[str, tuple[str, ...]] = {
    "person": ("{s} is known for a meticulous approach to {p} work.",
               "{s} has given few interviews over the years.",
               "Colleagues describe {n} as private and hard-working.",
               "{s} spent several years travelling before settling into {p} career."),
    "city": ("The old town is known for its narrow streets and covered markets.",
             "The city holds a lantern festival every autumn.",
             "A river divides the city into an old and a new quarter."),
    "country": ("Its economy rests largely on agriculture and shipping.",
                "The country is known for its mountain passes and long coastline.",
                "{n} has a parliamentary system of government."),
    "island": ("The island is known for its cliffs and sea birds.",
               "Ferries connect the island to the mainland several times a day.",
               "Much of the island is covered by heathland."),
    "studio": ("The studio is known for small, character-driven films.",
               "{s} also runs a training programme for young film-makers."),
    "university": ("The university is known for its library and its botanical garden.",
                   "It enrols students from many countries."),
    "publisher": ("The house is known for its literary fiction list.",
                  "{s} also publishes poetry and essays."),
    "label": ("The label specialises in folk and chamber music.",
              "{s} is known for its hand-printed sleeves."),
    "company": ("The company makes machine tools and precision instruments.",
                "{s} employs several thousand people."),
    "film": ("Critics praised its cinematography and its score.",
             "The film runs for just under two hours.",
             "It was a modest success at the box office."),
    "book": ("The novel received warm reviews on publication.",
             "It has been translated into several languages.",
             "The book is told in the first person."),
    "album": ("The album contains eleven tracks.", "Critics noted its sparse arrangements.",
              "It was recorded over a single winter."),
}  # fmt: skip
_CONFUSIONS = (
    "{n} is not to be confused with {x}, {d}.",
    "{s} is sometimes confused with {x}, {d}.",
)
# How a look-alike is described after its name ("Varo Kellen, a painter born in 1931"): a person;
# else by the first of its country, release year or founding year it has; else by its kind alone.
_DESCRIPTIONS: Mapping[str, str] = {
    "person": "{a_occupation} born in {birth_year}", "located_in": "{a_noun} in {o}",
    "release_year": "{a_noun} from {v}", "founded_year": "the {noun} founded in {v}",
    "other": "{a_noun}",
}  # fmt: skip
_SUBJECT_REFS: Mapping[str, tuple[str, ...]] = {
    "city": ("The city",), "country": ("The country",), "island": ("The island",),
    "studio": ("The studio",), "university": ("The university",), "publisher": ("The publisher",),
    "label": ("The label",), "company": ("The company",), "film": ("The film",),
    "book": ("The novel", "The book"), "album": ("The album",),
}  # fmt: skip


@dataclass(frozen=True)
class RenderedDoc:
    """One entity's document, with the sentence that states each of its facts.

    ``fact_sentence`` keys: a relation name (the entity is its subject), ``~relation`` (the entity
    is its only object) or an attribute name; values are indexes into ``sentences``.
    """

    entity_id: str
    title: str
    sentences: tuple[str, ...]
    fact_sentence: Mapping[str, int]

    @property
    def document(self) -> Document:
        return Document(id=self.entity_id, title=self.title, text=" ".join(self.sentences))


def article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def format_value(name: str, value: int | str) -> str:
    """How an attribute reads in text and in gold answers (populations with thousands commas)."""
    if name == "population" and isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pick(options: Sequence[str], rng: random.Random, paraphrase: float) -> str:
    """The canonical (first) option, or with probability ``paraphrase`` any option."""
    if len(options) > 1 and rng.random() < paraphrase:
        return options[rng.randrange(len(options))]
    return options[0]


def describe(entity: Entity, world: World, book: Phrasebook | None = None) -> str:
    """A short true description of an entity, for 'not to be confused with' sentences."""
    forms = (book or STANDARD).descriptions
    attrs = entity.attrs
    noun = NOUNS[entity.kind]
    if entity.kind == "person":
        a_occupation = article(str(attrs["occupation"]))
        return forms["person"].format(a_occupation=a_occupation, birth_year=attrs["birth_year"])
    if "located_in" in entity.rels:
        place = world.by_id[entity.rels["located_in"]].name
        return forms["located_in"].format(a_noun=article(noun), o=place)
    for attr in ("release_year", "founded_year"):
        if attr in attrs:
            return forms[attr].format(a_noun=article(noun), noun=noun, v=attrs[attr])
    return forms["other"].format(a_noun=article(noun))


def render_document(
    entity: Entity,
    world: World,
    rng: random.Random,
    paraphrase: float,
    confusability: float,
    book: Phrasebook | None = None,
) -> RenderedDoc:
    """Render ``entity`` as a document: an intro, one sentence per fact, filler; order varied."""
    book = book or STANDARD
    name = entity.name
    female = entity.attrs.get("gender") == "female"
    is_person = entity.kind == "person"
    possessive = ("her" if female else "his") if is_person else "its"

    def subject_ref() -> str:
        if rng.random() >= paraphrase * 0.9:
            return name
        if is_person:
            return rng.choice((name.split()[-1], "She" if female else "He"))
        return rng.choice(book.subject_refs[entity.kind] + ("It",))

    def fill(template: str, **extra: str) -> str:
        text = template.format(n=name, s=subject_ref(), p=possessive, **extra)
        return text[0].upper() + text[1:]

    values = {k: format_value(k, v) for k, v in entity.attrs.items()}
    if "occupation" in values:
        values["a_occupation"] = article(values["occupation"])
    intro = pick(book.intros[entity.kind], rng, paraphrase).format(n=name, **values)
    body: list[tuple[str, str | None]] = []  # (sentence, fact key or None)
    for rel, obj_id in entity.rels.items():
        body.append((fill(pick(book.facts[rel], rng, paraphrase), o=world.by_id[obj_id].name), rel))
    for attr, templates in book.attr_facts.items():
        if attr in values and attr not in INTRO_ATTRS[entity.kind]:
            body.append((fill(pick(templates, rng, paraphrase), v=values[attr]), attr))
    for rel, templates in book.inverse_facts.items():
        subjects = world.subjects.get((rel, entity.id), ())
        if len(subjects) == 1 and rel != "spouse":
            subject = world.by_id[subjects[0]].name
            body.append((fill(pick(templates, rng, paraphrase), x=subject), "~" + rel))
    fillers = list(book.fillers[entity.kind])
    rng.shuffle(fillers)
    for template in fillers[: rng.randint(1, 2)]:
        body.append((fill(template), None))
    partners = world.partners.get(entity.id, ())
    if partners and rng.random() < confusability:
        other = world.by_id[partners[rng.randrange(len(partners))]]
        description = describe(other, world, book)
        text = fill(pick(book.confusions, rng, paraphrase), x=other.name, d=description)
        body.append((text, None))
    if rng.random() < paraphrase:
        rng.shuffle(body)
    sentences = [intro] + [s for s, _ in body]
    facts = {attr: 0 for attr in INTRO_ATTRS[entity.kind] if attr in entity.attrs}
    facts.update({key: i for i, (_, key) in enumerate(body, start=1) if key is not None})
    return RenderedDoc(entity.id, name, tuple(sentences), facts)


# -- questions -----------------------------------------------------------------------------------
# A hop key is a relation ("directed_by": from a film to its director), an inverse relation
# ("~directed_by": from a director to the film) or an attribute ("@birth_year"). {x} is the noun
# phrase of the entity the hop starts from, {noun} the answer entity's kind. The first template
# of each list is canonical: sub-questions of gold decompositions use it.

_NPS: Mapping[str, tuple[str, ...]] = {
    "born_in": ("the birthplace of {x}", "the city where {x} was born"),
    "studied_at": ("the university where {x} studied", "the alma mater of {x}",
                   "the university {x} attended"),
    "spouse": ("the spouse of {x}", "the person married to {x}"),
    "located_in": ("the country where {x} is located", "the country that is home to {x}",
                   "the country that {x} belongs to"),
    "capital": ("the capital of {x}", "the capital city of {x}"),
    "campus_in": ("the city where {x} is located", "the city that is home to {x}"),
    "headquartered_in": ("the city where {x} is headquartered", "the city in which {x} is based",
                         "the home city of {x}"),
    "founded_by": ("the founder of {x}", "the person who founded {x}"),
    "directed_by": ("the director of {x}", "the person who directed {x}"),
    "produced_by": ("the studio that produced {x}", "the studio behind {x}"),
    "filmed_on": ("the island where {x} was filmed", "the island on which {x} was shot",
                  "the filming location of {x}"),
    "written_by": ("the author of {x}", "the person who wrote {x}", "the writer of {x}"),
    "published_by": ("the publisher of {x}", "the house that published {x}"),
    "recorded_by": ("the musician who recorded {x}", "the artist behind {x}"),
    "released_by": ("the label that released {x}", "the record label behind {x}"),
    "~born_in": ("the {noun} born in {x}", "the {noun} who was born in {x}"),
    "~studied_at": ("the {noun} who studied at {x}", "the {noun} educated at {x}"),
    "~located_in": ("the {noun} located in {x}", "the {noun} that belongs to {x}"),
    "~capital": ("the country whose capital is {x}", "the country with {x} as its capital"),
    "~campus_in": ("the university located in {x}", "the university based in {x}"),
    "~headquartered_in": ("the {noun} headquartered in {x}", "the {noun} based in {x}"),
    "~founded_by": ("the {noun} founded by {x}", "the {noun} that {x} founded"),
    "~directed_by": ("the film directed by {x}", "the film that {x} directed"),
    "~produced_by": ("the film produced by {x}", "the film that {x} produced"),
    "~filmed_on": ("the film shot on {x}", "the film that was filmed on {x}"),
    "~written_by": ("the book written by {x}", "the novel by {x}", "the book that {x} wrote"),
    "~published_by": ("the book published by {x}", "the novel that {x} published"),
    "~recorded_by": ("the album recorded by {x}", "the album by {x}"),
    "~released_by": ("the album released by {x}", "the album that came out on {x}"),
}  # fmt: skip
# Possessive phrasings, used only when {x} is a plain name ("Varo Keln's spouse").
_POSSESSIVES: Mapping[str, str] = {
    "born_in": "{x}'s birthplace", "studied_at": "{x}'s alma mater", "spouse": "{x}'s spouse",
    "capital": "{x}'s capital", "founded_by": "{x}'s founder", "directed_by": "{x}'s director",
    "written_by": "{x}'s author", "published_by": "{x}'s publisher",
}  # fmt: skip
_ASKS: Mapping[str, tuple[str, ...]] = {
    "born_in": ("Where was {x} born?", "In which city was {x} born?",
                "What is the birthplace of {x}?"),
    "studied_at": ("Where did {x} study?", "Which university did {x} attend?",
                   "What is the alma mater of {x}?"),
    "spouse": ("Who is {x} married to?", "Who is the spouse of {x}?"),
    "located_in": ("In which country is {x} located?", "Which country is {x} in?",
                   "Which country is home to {x}?"),
    "capital": ("What is the capital of {x}?", "Which city is the capital of {x}?"),
    "campus_in": ("In which city is {x} located?", "Where is {x} located?",
                  "Which city is home to {x}?"),
    "headquartered_in": ("Where is {x} headquartered?", "In which city is {x} based?",
                         "Which city is home to {x}?"),
    "founded_by": ("Who founded {x}?", "Who was the founder of {x}?", "Who established {x}?"),
    "directed_by": ("Who directed {x}?", "Who is the director of {x}?"),
    "produced_by": ("Which studio produced {x}?", "What studio was behind {x}?"),
    "filmed_on": ("Where was {x} filmed?", "On which island was {x} shot?",
                  "What is the filming location of {x}?"),
    "written_by": ("Who wrote {x}?", "Who is the author of {x}?"),
    "published_by": ("Who published {x}?", "Which publisher brought out {x}?"),
    "recorded_by": ("Who recorded {x}?", "Which musician recorded {x}?"),
    "released_by": ("Which label released {x}?", "On which record label did {x} come out?"),
    "~born_in": ("Who was born in {x}?", "Which {noun} was born in {x}?"),
    "~studied_at": ("Who studied at {x}?", "Which {noun} attended {x}?"),
    "~located_in": ("Which {noun} is located in {x}?", "Which {noun} belongs to {x}?"),
    "~capital": ("Which country has {x} as its capital?", "{x} is the capital of which country?"),
    "~campus_in": ("Which university is located in {x}?", "Which university is based in {x}?"),
    "~headquartered_in": ("Which {noun} is headquartered in {x}?", "Which {noun} is based in {x}?"),
    "~founded_by": ("Which {noun} was founded by {x}?", "What {noun} did {x} found?"),
    "~directed_by": ("Which film was directed by {x}?", "What film did {x} direct?"),
    "~produced_by": ("Which film was produced by {x}?", "What film did {x} produce?"),
    "~filmed_on": ("Which film was shot on {x}?", "What film was filmed on {x}?"),
    "~written_by": ("Which book was written by {x}?", "What book did {x} write?"),
    "~published_by": ("Which book was published by {x}?", "What book did {x} publish?"),
    "~recorded_by": ("Which album was recorded by {x}?", "What album did {x} record?"),
    "~released_by": ("Which album was released by {x}?", "What album came out on {x}?"),
    "@birth_year": ("When was {x} born?", "In what year was {x} born?",
                    "What is the birth year of {x}?"),
    "@occupation": ("What is the occupation of {x}?", "What does {x} do for a living?"),
    "@founded_year": ("When was {x} founded?", "In which year was {x} established?",
                      "What is the founding year of {x}?"),
    "@population": ("What is the population of {x}?", "How many people live in {x}?"),
    "@release_year": ("When was {x} released?", "In what year did {x} come out?",
                      "What is the release year of {x}?"),
    "@release_year:book": ("When was {x} first published?", "In what year was {x} published?",
                           "What is the publication year of {x}?"),
}  # fmt: skip


def ask_templates(hop: str, kind: str, book: Phrasebook | None = None) -> tuple[str, ...]:
    """The question templates for a hop starting from an entity of ``kind``."""
    asks = (book or STANDARD).asks
    return asks.get(f"{hop}:{kind}", asks[hop])


def _right_branching(templates: Sequence[str], depth: int) -> Sequence[str]:
    """Around anything but a plain name, only templates that start or end with it: "the founder of
    the studio behind X", never "the city where the founder of the studio behind X was born"."""
    if depth < 1:
        return templates
    return [
        t for t in templates if t.startswith("{x}") or t.rstrip("?.").endswith("{x}")
    ] or templates


def noun_phrase(
    hop: str,
    x: str,
    noun: str,
    depth: int,
    rng: random.Random,
    paraphrase: float,
    book: Phrasebook | None = None,
) -> str:
    """The answer of ``hop`` described from the phrase ``x`` ("the director of {x}"), where ``x``
    is ``depth`` hops deep (0: a plain name)."""
    book = book or STANDARD
    if depth == 0 and hop in book.possessives and rng.random() < paraphrase * 0.5:
        return book.possessives[hop].format(x=x)
    return pick(_right_branching(book.nps[hop], depth), rng, paraphrase).format(x=x, noun=noun)


def ask(
    hop: str,
    kind: str,
    x: str,
    noun: str,
    rng: random.Random,
    paraphrase: float,
    depth: int = 0,
    book: Phrasebook | None = None,
) -> str:
    """A question asking for the answer of ``hop`` from ``x`` (a phrase ``depth`` hops deep)."""
    templates = _right_branching(ask_templates(hop, kind, book), depth)
    text = pick(templates, rng, paraphrase).format(x=x, noun=noun)
    return text[0].upper() + text[1:]


def subquestion(hop: str, kind: str, x: str, noun: str, book: Phrasebook | None = None) -> str:
    """The canonical single-fact question of ``hop`` from ``x``: a gold decomposition's step."""
    forms = (book or STANDARD).subquestions
    form = forms[f"{hop}:{kind}"] if f"{hop}:{kind}" in forms else forms[hop]
    text = form.format(x=x, noun=noun)
    return text[0].upper() + text[1:]


# Comparisons: the attribute or relation compared, per group of kinds.
COMPARE_ASKS: Mapping[str, tuple[str, ...]] = {
    "birth_year": ("Who was born first, {a} or {b}?", "Which of {a} and {b} was born earlier?",
                   "Who is older, {a} or {b}?"),
    "founded_year": ("Which was founded first, {a} or {b}?",
                     "Which {noun} is older, {a} or {b}?",
                     "Which was established earlier, {a} or {b}?"),
    "release_year": ("Which {noun} came out first, {a} or {b}?",
                     "Which was released earlier, {a} or {b}?"),
    "population": ("Which {noun} has the larger population, {a} or {b}?",
                   "Which is more populous, {a} or {b}?",
                   "Which has more inhabitants, {a} or {b}?"),
    "born_in": ("Were {a} and {b} born in the same city?", "Do {a} and {b} share a birthplace?"),
    "studied_at": ("Did {a} and {b} attend the same university?",
                   "Did {a} and {b} study at the same university?"),
    "located_in": ("Are {a} and {b} located in the same country?",
                   "Are {a} and {b} in the same country?"),
    "directed_by": ("Were {a} and {b} directed by the same person?",
                    "Do {a} and {b} have the same director?"),
}  # fmt: skip

# Intersections: a clause per facet ("was born in {v}"), joined as "Which {noun} {c1} and {c2}?".
CLAUSES: Mapping[str, str] = {
    "born_in": "was born in {v}", "studied_at": "studied at {v}", "occupation": "is {a_v}",
    "directed_by": "was directed by {v}", "produced_by": "was produced by {v}",
    "filmed_on": "was shot on {v}", "written_by": "was written by {v}",
    "published_by": "was published by {v}", "recorded_by": "was recorded by {v}",
    "released_by": "was released by {v}", "release_year": "came out in {v}",
    "located_in": "is located in {v}", "founded_year": "was founded in {v}",
    "headquartered_in": "is headquartered in {v}", "campus_in": "is located in {v}",
}  # fmt: skip
_INTERSECT_ASKS = (
    "Which {noun} {c1} and {c2}?",
    "Name the {noun} {rel} {c1} and {c2}.",
    "Which {noun} both {c1} and {c2}?",
)
_INTERSECT_PERSON_ASKS = (
    "Which person {c1} and {c2}?",
    "Who {c1} and {c2}?",
    "Name the person who {c1} and {c2}.",
)


def clause(facet: str, value: str, book: Phrasebook | None = None, *, step: bool = False) -> str:
    """A facet as a clause ("was born in Tovik"): a question's (``book.clauses``) or, with
    ``step``, a gold sub-question's (``book.step_clauses``)."""
    book = book or STANDARD
    table = book.step_clauses if step else book.clauses
    return table[facet].format(v=value, a_v=article(value))


def intersect_ask(
    kind: str,
    c1: str,
    c2: str,
    rng: random.Random,
    paraphrase: float,
    book: Phrasebook | None = None,
) -> str:
    book = book or STANDARD
    templates = book.intersect_person_asks if kind == "person" else book.intersect_asks
    return pick(templates, rng, paraphrase).format(noun=NOUNS[kind], c1=c1, c2=c2, rel="that")


def intersect_steps(kind: str, c1: str, c2: str) -> tuple[str, str]:
    """The two canonical sub-questions of an intersection: list the first set, then filter it."""
    rel = "who" if kind == "person" else "that"
    return f"List every {NOUNS[kind]} {rel} {c1}.", f"Which of #1 {c2}?"


# -- phrasebooks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phrasebook:
    """Every template a world's text is written from (see the tables above for their fields'
    placeholders). ``subquestions`` (hop key, or ``hop:kind``, to one canonical question) and
    ``step_clauses`` write gold decompositions; every other table writes what a reader sees."""

    intros: Mapping[str, tuple[str, ...]]
    attr_facts: Mapping[str, tuple[str, ...]]
    facts: Mapping[str, tuple[str, ...]]
    inverse_facts: Mapping[str, tuple[str, ...]]
    fillers: Mapping[str, tuple[str, ...]]
    confusions: tuple[str, ...]
    descriptions: Mapping[str, str]
    subject_refs: Mapping[str, tuple[str, ...]]
    nps: Mapping[str, tuple[str, ...]]
    possessives: Mapping[str, str]
    asks: Mapping[str, tuple[str, ...]]
    compare_asks: Mapping[str, tuple[str, ...]]
    clauses: Mapping[str, str]
    intersect_asks: tuple[str, ...]
    intersect_person_asks: tuple[str, ...]
    subquestions: Mapping[str, str]
    step_clauses: Mapping[str, str]


STANDARD_SUBQUESTIONS: Mapping[str, str] = {hop: forms[0] for hop, forms in _ASKS.items()}

STANDARD = Phrasebook(
    intros=_INTROS, attr_facts=_ATTR_FACTS, facts=_FACTS, inverse_facts=_INVERSE_FACTS,
    fillers=_FILLERS, confusions=_CONFUSIONS, descriptions=_DESCRIPTIONS,
    subject_refs=_SUBJECT_REFS, nps=_NPS,
    possessives=_POSSESSIVES, asks=_ASKS, compare_asks=COMPARE_ASKS, clauses=CLAUSES,
    intersect_asks=_INTERSECT_ASKS, intersect_person_asks=_INTERSECT_PERSON_ASKS,
    subquestions=STANDARD_SUBQUESTIONS, step_clauses=CLAUSES,
)  # fmt: skip
