"""A three-document corpus and a two-hop question shared by the flat strategies' tests."""

from __future__ import annotations

from forage.core.types import Document
from forage.search.bm25 import BM25Search
from forage.search.corpus import Corpus
from forage.prompts.exemplars import ExemplarSet

DOCS = Corpus(
    [
        Document("1", "Lantern Society", "The Lantern Society was founded by Ada Prell."),
        Document("2", "Ada Prell", "Ada Prell was born in Harrowgate."),
        Document("3", "Brennock", "Brennock is a fishing port with a sea wall."),
    ]
)
TOOL = BM25Search(DOCS)
Q = "Where was the founder of the Lantern Society born?"
EX = ExemplarSet.generic()
