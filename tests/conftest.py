"""Shared fixtures: the embedded models, loaded once per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def smollm2():
    from forage.llm.embedded import EmbeddedLLM

    return EmbeddedLLM("smollm2", n_ctx=1024)


@pytest.fixture(scope="session")
def gemma():
    from forage.llm.embedded import EmbeddedLLM

    return EmbeddedLLM("gemma3-270m", n_ctx=1024)
