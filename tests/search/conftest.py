"""Shared fixtures of the search tests: a small corpus and the real embedding model, loaded once."""

from __future__ import annotations

import pytest

from forage.core.types import Document
from forage.search.corpus import Corpus
from forage.search.dense import E5Embedder

FACTS = [
    Document("paris", "Paris", "Paris is the capital of France and home of the Eiffel Tower."),
    Document("banana", "Banana", "Bananas are yellow tropical fruits rich in potassium."),
    Document("pacific", "Pacific Ocean", "The Pacific is the largest and deepest ocean on Earth."),
    Document("violin", "Violin", "The violin is a string instrument played with a bow."),
    Document("everest", "Mount Everest", "Everest, in the Himalayas, is the highest mountain."),
    Document("python", "Python", "Python is a programming language created by Guido van Rossum."),
]


@pytest.fixture
def facts() -> Corpus:
    return Corpus(FACTS)


@pytest.fixture(scope="session")
def e5() -> E5Embedder:
    return E5Embedder()
