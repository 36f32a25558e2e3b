"""The held-out phrasebook: how evaluation worlds for transfer are written (``"heldout"``).

Training worlds are always standard (``forage.data.world.text.STANDARD``); a held-out world is
written from ``HELDOUT``, so a model trained on standard worlds meets text it has not seen.

Held out (no standard world contains any of it; ``tests/data/test_world_heldout.py`` checks):

- every whole-question phrasing: the bridge questions (``asks``) and the noun phrases they nest
  (``nps``, ``possessives``), comparison questions and intersection questions with their clauses;
- every document sentence that states a fact: intros, relation facts from either side, attribute
  facts; and the filler and look-alike sentences;
- four relations (``build.HELDOUT_RELATIONS``): ``mentored_by`` (person -> an older person),
  ``scored_by`` (film -> composer), ``illustrated_by`` (book -> painter or photographer) and
  ``chaired_by`` (organisation -> person), with their facts, questions, noun phrases, a
  comparison (same mentor, same composer) and intersection facets. Their questions' chains use
  them like any other relation.

Shared with standard worlds:

- the gold decompositions' sub-questions: each is the canonical single-fact question of its hop
  (``text.STANDARD_SUBQUESTIONS``; the held-out relations get canonical forms of the same style
  here), and intersection steps keep "List every {noun} that ..." / "Which of #1 ...?", so a
  planner is judged against one style of sub-question in every world;
- the name pool (``names``): held-out worlds invent names from the same syllables and word lists,
  and a held-out world has the same entities, names and standard facts as the standard world of
  the same seed and size (its extra relations are drawn after them);
- the world model: entity kinds, attributes, the standard relations, question types, hop counts,
  the kind nouns ("record label") and the short descriptions in look-alike sentences.

Not here: the standard tables and the rendering code (``text``), which facts exist (``build``),
which questions are asked (``questions``).
"""

from __future__ import annotations

from collections.abc import Mapping

from forage.data.world.text import CLAUSES, STANDARD_SUBQUESTIONS, Phrasebook

# -- documents -----------------------------------------------------------------------------------
# Placeholders as in ``text``: {n} name, {s} sentence-initial reference, {p} possessive pronoun,
# {o} the object's name, {x} the other entity's name, {v} an attribute value.

_INTROS: Mapping[str, tuple[str, ...]] = {
    "person": ("{n} works as {a_occupation} and entered the world in {birth_year}.",
               "Entering the world in {birth_year}, {n} went on to work as {a_occupation}."),
    "city": ("{n} is a town whose residents number {population}.",
             "Some {population} residents call the town of {n} home."),
    "country": ("{n} is a sovereign state whose citizens number {population}.",
                "Roughly {population} citizens inhabit the sovereign state of {n}."),
    "island": ("{n} is an isle whose residents number {population}.",
               "Roughly {population} islanders inhabit {n}."),
    "studio": ("{n} is a motion-picture outfit that opened its doors in {founded_year}.",
               "Since {founded_year}, {n} has made motion pictures."),
    "university": ("{n} is a seat of learning that opened its doors in {founded_year}.",
                   "Since {founded_year}, {n} has taught undergraduates and doctoral candidates."),
    "publisher": ("{n} is a printing firm that opened its doors in {founded_year}.",
                  "Since {founded_year}, {n} has printed and sold books."),
    "label": ("{n} is a music imprint that opened its doors in {founded_year}.",
              "Since {founded_year}, {n} has issued gramophone records."),
    "company": ("{n} is a manufacturer that opened its doors in {founded_year}.",
                "Since {founded_year}, {n} has manufactured goods for export."),
    "film": ("{n} is a motion picture that reached cinemas in {release_year}.",
             "{n} reached cinemas in {release_year}."),
    "book": ("{n} is a work of fiction that reached bookshops in {release_year}.",
             "{n} reached bookshops in {release_year}."),
    "album": ("{n} is a long-player that reached record shops in {release_year}.",
              "{n} reached record shops in {release_year}."),
}  # fmt: skip
_ATTR_FACTS: Mapping[str, tuple[str, ...]] = {
    "founded_year": ("{s} traces its origins to {v}.", "The first houses of {n} went up in {v}.",
                     "Settlers laid out {n} in {v}."),
}  # fmt: skip
_FACTS: Mapping[str, tuple[str, ...]] = {
    "born_in": ("{s} is a native of {o}.", "{n}'s home town is {o}.",
                "{s} hails from {o}, where {p} life began."),
    "studied_at": ("{s} earned a degree from {o}.", "{s} completed {p} studies at {o}.",
                   "{o} awarded {n} a degree."),
    "spouse": ("{s} wed {o}.", "{s} tied the knot with {o}.",
               "{n} and {o} exchanged wedding vows."),
    "located_in": ("{s} belongs to the nation of {o}.", "{s} sits within the borders of {o}.",
                   "{s} falls within {o}."),
    "capital": ("{s} is governed from {o}, its seat of government.",
                "{s} keeps its seat of government in {o}.",
                "The seat of government of {n} is {o}."),
    "campus_in": ("{s} occupies a campus in {o}.", "Lectures at {n} take place in {o}.",
                  "{s} holds its classes in {o}."),
    "headquartered_in": ("{s} keeps its head office in {o}.", "{s} runs its operations from {o}.",
                         "The head office of {n} stands in {o}."),
    "founded_by": ("{s} owes its existence to {o}.", "{o} set up {n}.", "{s} was set up by {o}."),
    "directed_by": ("{s} was helmed by {o}.", "{o} helmed {n}.",
                    "{o} stood behind the camera for {n}."),
    "produced_by": ("{s} was bankrolled by {o}.", "{o} bankrolled {n}.",
                    "{s} is a picture made at {o}."),
    "filmed_on": ("{s} had its location shoot on {o}.", "Cameras rolled on {o} for {n}.",
                  "The shoot for {n} took place on {o}."),
    "written_by": ("{s} was penned by {o}.", "{o} penned {n}.", "{s} flowed from the pen of {o}."),
    "published_by": ("{s} was issued in print by {o}.", "{o} put {n} into print.",
                     "{s} appeared under the imprint of {o}."),
    "recorded_by": ("{s} was cut by {o}.", "{o} cut the record {n}.",
                    "{s} is the work of the musician {o}."),
    "released_by": ("{s} was issued by {o}.", "{o} issued {n}.", "{s} appeared on the {o} roster."),
    "mentored_by": ("{s} trained under {o}.", "{o} was the mentor of {n}.",
                    "{s} learned {p} craft from {o}."),
    "scored_by": ("{s} has a score by {o}.", "{o} composed the music for {n}.",
                  "The score of {n} is the work of {o}."),
    "illustrated_by": ("{s} carries illustrations by {o}.", "{o} drew the pictures for {n}.",
                       "The illustrations in {n} are the work of {o}."),
    "chaired_by": ("{s} has {o} as its chair.", "{o} chairs the board of {n}.",
                   "{o} presides over the board of {n}."),
}  # fmt: skip
_INVERSE_FACTS: Mapping[str, tuple[str, ...]] = {
    "born_in": ("{s} is the home town of {x}.", "{x} is a native of {n}."),
    "studied_at": ("{s} awarded a degree to {x}.", "{x} earned a degree from {n}."),
    "located_in": ("{x} sits within the borders of {n}.", "Within the borders of {n} lies {x}."),
    "capital": ("{s} is the seat of government of {x}.",
                "{s} serves {x} as its seat of government."),
    "campus_in": ("{s} hosts the campus of {x}.", "Lectures at {x} take place in {n}."),
    "headquartered_in": ("{s} hosts the head office of {x}.", "{x} keeps its head office in {n}."),
    "founded_by": ("{s} set up {x}.", "{x} owes its existence to {n}."),
    "directed_by": ("{s} helmed the picture {x}.", "{x} was helmed by {n}."),
    "produced_by": ("{s} bankrolled the picture {x}.", "{x} was bankrolled by {n}."),
    "filmed_on": ("Cameras rolled on {n} for {x}.", "{x} had its location shoot on {n}."),
    "written_by": ("{s} penned the story {x}.", "{x} was penned by {n}."),
    "published_by": ("{s} put {x} into print.", "{x} was issued in print by {n}."),
    "recorded_by": ("{s} cut the record {x}.", "{x} is the work of the musician {n}."),
    "released_by": ("{s} issued the record {x}.", "{x} was issued by {n}."),
    "mentored_by": ("{s} mentored {x}.", "{x} trained under {n}."),
    "scored_by": ("{s} composed the music for {x}.", "{x} has a score by {n}."),
    "illustrated_by": ("{s} drew the pictures for {x}.", "{x} carries illustrations by {n}."),
    "chaired_by": ("{s} chairs the board of {x}.", "{x} has {n} as its chair."),
}  # fmt: skip
_FILLERS: Mapping[str, tuple[str, ...]] = {
    "person": ("{s} rarely speaks to the press.",
               "Friends describe {n} as generous and curious.",
               "{s} keeps a large collection of old maps.",
               "{s} spends the summers in a cottage by the sea."),
    "city": ("The town square hosts a weekly flower market.",
             "A tramway links the harbour to the hills above the town.",
             "Its cathedral bells can be heard across the valley."),
    "country": ("Fishing and forestry employ much of its workforce.",
                "{n} is divided into seven provinces.",
                "The nation celebrates its founding with a spring parade."),
    "island": ("Wild ponies roam the northern moors of the isle.",
               "A single beacon guards its western cape.",
               "Sheep outnumber people on the isle."),
    "studio": ("The outfit keeps a vault of original negatives.",
               "{s} favours long rehearsals before shooting."),
    "university": ("Its observatory is open to the public on clear nights.",
                   "{s} runs a summer school for secondary pupils."),
    "publisher": ("The firm keeps a backlist of translated classics.",
                  "{s} prints its titles on recycled paper."),
    "label": ("The imprint favours live, single-take sessions.",
              "{s} presses its releases on coloured vinyl."),
    "company": ("The firm exports most of what it makes.",
                "{s} runs an apprenticeship scheme for school leavers."),
    "film": ("The picture was restored a few years ago.",
             "Its opening scene is often imitated.",
             "Audiences queued around the block on its opening night."),
    "book": ("Reviewers admired its spare prose.",
             "The story spans three generations of one family.",
             "Its final chapter has divided readers."),
    "album": ("The record runs for about forty minutes.",
              "Reviewers singled out its closing song.",
              "Its sleeve shows a photograph of an empty beach."),
}  # fmt: skip
_CONFUSIONS = (
    "Do not mistake {n} for {x}, {d}.",
    "{s} is easily mistaken for {x}, {d}.",
)
_DESCRIPTIONS: Mapping[str, str] = {
    "person": "{a_occupation} who entered the world in {birth_year}",
    "located_in": "{a_noun} within the borders of {o}",
    "release_year": "{a_noun} that reached the public in {v}",
    "founded_year": "the {noun} that opened its doors in {v}", "other": "{a_noun}",
}  # fmt: skip
_SUBJECT_REFS: Mapping[str, tuple[str, ...]] = {
    "city": ("The town",), "country": ("The nation",), "island": ("The isle",),
    "studio": ("The outfit",), "university": ("The school",), "publisher": ("The firm",),
    "label": ("The imprint",), "company": ("The firm",), "film": ("The picture",),
    "book": ("The story", "The work"), "album": ("The record",),
}  # fmt: skip

# -- questions -----------------------------------------------------------------------------------
# Placeholders and hop keys as in ``text``. Each list of noun phrases and questions has a form
# that ends (or starts) with {x}, so nested phrases stay right-branching.

_NPS: Mapping[str, tuple[str, ...]] = {
    "born_in": ("the home town of {x}", "the town {x} hails from"),
    "studied_at": ("the university that granted a degree to {x}",
                   "the university {x} graduated from"),
    "spouse": ("the partner in marriage of {x}", "the person {x} wed"),
    "located_in": ("the nation containing {x}", "the nation whose territory includes {x}"),
    "capital": ("the seat of government of {x}", "the town that governs {x}"),
    "campus_in": ("the town hosting the campus of {x}", "the town where {x} holds its classes"),
    "headquartered_in": ("the town hosting the head office of {x}",
                         "the town {x} runs its operations from"),
    "founded_by": ("the person who set up {x}", "the creator of {x}"),
    "directed_by": ("the filmmaker who helmed {x}", "the one behind the camera for {x}"),
    "produced_by": ("the studio that bankrolled {x}", "the outfit that financed {x}"),
    "filmed_on": ("the location-shoot island of {x}", "the isle where cameras rolled for {x}"),
    "written_by": ("the writer who penned {x}", "the pen behind {x}"),
    "published_by": ("the house that put {x} into print", "the printing firm of {x}"),
    "recorded_by": ("the musician who cut {x}", "the performer heard on {x}"),
    "released_by": ("the label that issued {x}", "the imprint that put out {x}"),
    "mentored_by": ("the mentor of {x}", "the teacher {x} trained under"),
    "scored_by": ("the composer of the music for {x}", "the person who scored the picture {x}"),
    "illustrated_by": ("the illustrator of {x}", "the artist who drew the pictures for {x}"),
    "chaired_by": ("the chair of {x}", "the person who chairs the board of {x}"),
    "~born_in": ("the {noun} who hails from {x}", "the {noun} native to {x}"),
    "~studied_at": ("the {noun} who earned a degree from {x}",
                    "the {noun} holding a degree from {x}"),
    "~located_in": ("the {noun} within the borders of {x}", "the {noun} that falls within {x}"),
    "~capital": ("the nation governed from {x}", "the nation whose seat of government is {x}"),
    "~campus_in": ("the university with its campus in {x}",
                   "the university holding classes in {x}"),
    "~headquartered_in": ("the {noun} with its head office in {x}", "the {noun} run from {x}"),
    "~founded_by": ("the {noun} set up by {x}", "the {noun} that owes its existence to {x}"),
    "~directed_by": ("the picture helmed by {x}", "the picture {x} helmed"),
    "~produced_by": ("the picture bankrolled by {x}", "the picture {x} financed"),
    "~filmed_on": ("the picture with a location shoot on {x}",
                   "the picture shot on location on {x}"),
    "~written_by": ("the story penned by {x}", "the work from the pen of {x}"),
    "~published_by": ("the title put into print by {x}", "the title issued in print by {x}"),
    "~recorded_by": ("the record cut by {x}", "the long-player {x} cut"),
    "~released_by": ("the record issued by {x}", "the long-player put out by {x}"),
    "~mentored_by": ("the {noun} who trained under {x}", "the protege of {x}"),
    "~scored_by": ("the picture with a score by {x}", "the picture {x} composed the music for"),
    "~illustrated_by": ("the story with illustrations by {x}",
                        "the story carrying drawings by {x}"),
    "~chaired_by": ("the {noun} whose board is chaired by {x}",
                    "the {noun} whose board {x} chairs"),
}  # fmt: skip
_POSSESSIVES: Mapping[str, str] = {
    "born_in": "{x}'s home town", "spouse": "{x}'s partner in marriage",
    "capital": "{x}'s seat of government", "founded_by": "{x}'s creator",
    "directed_by": "{x}'s filmmaker", "written_by": "{x}'s writer", "mentored_by": "{x}'s mentor",
    "scored_by": "{x}'s composer", "illustrated_by": "{x}'s illustrator",
    "chaired_by": "{x}'s chair",
}  # fmt: skip
_ASKS: Mapping[str, tuple[str, ...]] = {
    "born_in": ("Which town does {x} hail from?", "{x} is a native of which town?"),
    "studied_at": ("From which university did {x} earn a degree?",
                   "{x} holds a degree from which university?"),
    "spouse": ("Whom did {x} wed?", "{x} tied the knot with whom?"),
    "located_in": ("Within which nation's borders does {x} sit?", "{x} falls within which nation?"),
    "capital": ("From which town is {x} governed?", "{x} keeps its seat of government where?"),
    "campus_in": ("In which town does {x} hold its classes?", "{x} has its campus in which town?"),
    "headquartered_in": ("From which town does {x} run its operations?",
                         "{x} keeps its head office in which town?"),
    "founded_by": ("To whom does {x} owe its existence?", "{x} was set up by whom?"),
    "directed_by": ("Which filmmaker helmed {x}?", "{x} was helmed by whom?"),
    "produced_by": ("Which outfit bankrolled {x}?", "{x} was financed by which outfit?"),
    "filmed_on": ("On which isle did cameras roll for {x}?",
                  "{x} had its location shoot on which isle?"),
    "written_by": ("Which writer penned {x}?", "{x} was penned by whom?"),
    "published_by": ("Which house put {x} into print?", "{x} was issued in print by which house?"),
    "recorded_by": ("Which musician cut the record {x}?", "{x} is the work of which musician?"),
    "released_by": ("Which imprint issued {x}?", "{x} was put out by which imprint?"),
    "mentored_by": ("Under whom did {x} train?", "{x} learned the craft from whom?"),
    "scored_by": ("Whose music accompanies {x}?", "{x} has a score by whom?"),
    "illustrated_by": ("Whose drawings appear in {x}?", "{x} carries illustrations by whom?"),
    "chaired_by": ("Who presides over the board of {x}?", "{x} has whom as its chair?"),
    "~born_in": ("Which {noun} hails from {x}?", "{x} is the home town of which {noun}?"),
    "~studied_at": ("Which {noun} earned a degree from {x}?",
                    "{x} awarded a degree to which {noun}?"),
    "~located_in": ("Which {noun} falls within {x}?", "{x} contains which {noun}?"),
    "~capital": ("Which nation is governed from {x}?",
                 "{x} is the seat of government of which nation?"),
    "~campus_in": ("Which university holds its classes in {x}?",
                   "{x} hosts the campus of which university?"),
    "~headquartered_in": ("Which {noun} keeps its head office in {x}?",
                          "{x} hosts the head office of which {noun}?"),
    "~founded_by": ("Which {noun} owes its existence to {x}?", "{x} set up which {noun}?"),
    "~directed_by": ("Which picture did {x} helm?", "{x} helmed which picture?"),
    "~produced_by": ("Which picture did {x} bankroll?", "{x} financed which picture?"),
    "~filmed_on": ("For which picture did cameras roll on {x}?",
                   "{x} hosted the location shoot of which picture?"),
    "~written_by": ("Which story did {x} pen?", "{x} penned which story?"),
    "~published_by": ("Which title did {x} put into print?", "{x} issued which title in print?"),
    "~recorded_by": ("Which record did {x} cut?", "{x} cut which record?"),
    "~released_by": ("Which record did {x} issue?", "{x} put out which record?"),
    "~mentored_by": ("Which {noun} trained under {x}?", "{x} was the mentor of which {noun}?"),
    "~scored_by": ("For which picture did {x} compose the music?",
                   "{x} composed the music for which picture?"),
    "~illustrated_by": ("Which story carries illustrations by {x}?",
                        "{x} drew the pictures for which story?"),
    "~chaired_by": ("Which {noun} does {x} chair?", "{x} chairs the board of which {noun}?"),
    "@birth_year": ("In which year did {x} enter the world?",
                    "{x} entered the world in which year?"),
    "@occupation": ("What line of work is {x} in?", "{x} earns a living as what?"),
    "@founded_year": ("In which year did {x} open its doors?",
                      "{x} opened its doors in which year?"),
    "@founded_year:city": ("In which year was {x} laid out?",
                           "{x} traces its origins to which year?"),
    "@population": ("How many residents does {x} have?", "{x} has how many inhabitants?"),
    "@release_year": ("In which year did {x} first reach the public?",
                      "{x} first reached the public in which year?"),
    "@release_year:film": ("In which year did {x} reach cinemas?",
                           "{x} reached cinemas in which year?"),
    "@release_year:book": ("In which year did {x} reach bookshops?",
                           "{x} reached bookshops in which year?"),
    "@release_year:album": ("In which year did {x} reach record shops?",
                            "{x} reached record shops in which year?"),
}  # fmt: skip
_COMPARE_ASKS: Mapping[str, tuple[str, ...]] = {
    "birth_year": ("Of {a} and {b}, who entered the world first?",
                   "Between {a} and {b}, who is the elder?"),
    "founded_year": ("Of {a} and {b}, which opened its doors first?",
                     "Between {a} and {b}, which {noun} has the longer history?"),
    "release_year": ("Of {a} and {b}, which reached the public first?",
                     "Between {a} and {b}, which {noun} is the earlier one?"),
    "population": ("Of {a} and {b}, which {noun} has more residents?",
                   "Between {a} and {b}, which has more inhabitants?"),
    "born_in": ("Do {a} and {b} hail from the same town?",
                "Is the home town of {a} also that of {b}?"),
    "studied_at": ("Did {a} and {b} earn degrees from the same university?",
                   "Is the university {a} graduated from also the one {b} graduated from?"),
    "located_in": ("Do {a} and {b} fall within the same nation?",
                   "Is {a} in the same nation as {b}?"),
    "directed_by": ("Were {a} and {b} helmed by the same filmmaker?",
                    "Did one filmmaker helm both {a} and {b}?"),
    "mentored_by": ("Did {a} and {b} train under the same mentor?",
                    "Is the mentor of {a} also the mentor of {b}?"),
    "scored_by": ("Do {a} and {b} have scores by the same composer?",
                  "Did one composer write the music for both {a} and {b}?"),
}  # fmt: skip
_CLAUSES: Mapping[str, str] = {
    "born_in": "hails from {v}", "studied_at": "holds a degree from {v}",
    "occupation": "works as {a_v}",
    "directed_by": "was helmed by {v}", "produced_by": "was bankrolled by {v}",
    "filmed_on": "had its location shoot on {v}", "written_by": "was penned by {v}",
    "published_by": "was issued in print by {v}", "recorded_by": "was cut by {v}",
    "released_by": "was put out by {v}", "release_year": "first reached the public in {v}",
    "located_in": "falls within {v}", "founded_year": "traces its origins to {v}",
    "headquartered_in": "keeps its head office in {v}", "campus_in": "holds its classes in {v}",
    "mentored_by": "trained under {v}", "scored_by": "has a score by {v}",
    "illustrated_by": "carries illustrations by {v}", "chaired_by": "has {v} as its chair",
}  # fmt: skip
_INTERSECT_ASKS = (
    "Identify the {noun} that {c1} and {c2}.",
    "There is one {noun} that {c1} and {c2}; which is it?",
    "Find the {noun} that both {c1} and {c2}.",
)
_INTERSECT_PERSON_ASKS = (
    "Identify the person who {c1} and {c2}.",
    "There is one person who {c1} and {c2}; who is it?",
    "Find the person who both {c1} and {c2}.",
)

# -- gold sub-questions --------------------------------------------------------------------------
# Canonical single-fact questions of the held-out relations, in the standard sub-questions' style.

_SUBQUESTIONS: Mapping[str, str] = {
    "mentored_by": "Who mentored {x}?", "~mentored_by": "Which {noun} was mentored by {x}?",
    "scored_by": "Who composed the score of {x}?", "~scored_by": "Which film was scored by {x}?",
    "illustrated_by": "Who illustrated {x}?",
    "~illustrated_by": "Which book was illustrated by {x}?",
    "chaired_by": "Who chairs {x}?", "~chaired_by": "Which {noun} is chaired by {x}?",
}  # fmt: skip
_STEP_CLAUSES: Mapping[str, str] = {
    "mentored_by": "was mentored by {v}", "scored_by": "was scored by {v}",
    "illustrated_by": "was illustrated by {v}", "chaired_by": "is chaired by {v}",
}  # fmt: skip

HELDOUT = Phrasebook(
    intros=_INTROS, attr_facts=_ATTR_FACTS, facts=_FACTS, inverse_facts=_INVERSE_FACTS,
    fillers=_FILLERS, confusions=_CONFUSIONS, descriptions=_DESCRIPTIONS,
    subject_refs=_SUBJECT_REFS, nps=_NPS,
    possessives=_POSSESSIVES, asks=_ASKS, compare_asks=_COMPARE_ASKS, clauses=_CLAUSES,
    intersect_asks=_INTERSECT_ASKS, intersect_person_asks=_INTERSECT_PERSON_ASKS,
    subquestions={**STANDARD_SUBQUESTIONS, **_SUBQUESTIONS},
    step_clauses={**CLAUSES, **_STEP_CLAUSES},
)  # fmt: skip
