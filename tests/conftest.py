"""Shared fixtures: the embedded models (loaded once per session), a small world, snapshots; and
the ``embedded`` / ``server`` markers, set from the fixtures a test uses.

A test that loads model weights carries the ``embedded`` marker, so ``pytest -m "not embedded"``
runs only model-free tests:
- a test that asks for ``smollm2``, ``gemma``, ``llama_server``, ``llama_server_with_key`` or
  ``e5`` (the dense embedder) by name is marked here at collection (the two server fixtures also
  add ``server``);
- a test that loads a model another way (``request.getfixturevalue``, or a ``forage`` subprocess
  that loads one) is marked by hand; the model fixtures refuse to serve an unmarked test, so a
  forgotten marker fails instead of slipping into a model-free run.
"""

from __future__ import annotations

import pytest

EMBEDDED_FIXTURES = frozenset(
    {"smollm2", "gemma", "llama_server", "llama_server_with_key", "e5"}  # e5: tests/search
)
SERVER_FIXTURES = frozenset({"llama_server", "llama_server_with_key"})


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & EMBEDDED_FIXTURES:
            item.add_marker(pytest.mark.embedded)
        if used & SERVER_FIXTURES:
            item.add_marker(pytest.mark.server)


def _require_embedded_marker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("embedded") is None:
        pytest.fail(
            f"{request.node.nodeid} loads an embedded model but is not marked "
            "@pytest.mark.embedded (so `-m 'not embedded'` would load it)"
        )


@pytest.fixture(scope="session")
def _smollm2_model():
    from forage.llm.embedded import EmbeddedLLM

    return EmbeddedLLM("smollm2", n_ctx=1024)


@pytest.fixture(scope="session")
def _gemma_model():
    from forage.llm.embedded import EmbeddedLLM

    return EmbeddedLLM("gemma3-270m", n_ctx=1024)


@pytest.fixture
def smollm2(request):
    """SmolLM2-135M, embedded (loaded once per session)."""
    _require_embedded_marker(request)  # before loading anything
    return request.getfixturevalue("_smollm2_model")


@pytest.fixture
def gemma(request):
    """Gemma-3-270M base, embedded (loaded once per session)."""
    _require_embedded_marker(request)  # before loading anything
    return request.getfixturevalue("_gemma_model")


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """A small generated world written to disk and read back the way a user would."""
    from types import SimpleNamespace

    from forage.data.loaders import load
    from forage.data.world import WorldSettings, generate_world
    from forage.data.world.export import write_world
    from forage.search.corpus import load_corpus

    out = tmp_path_factory.mktemp("world")
    world = generate_world(WorldSettings(seed=7, entities=200, hops=(1, 3), questions=60))
    write_world(world, out)
    return SimpleNamespace(
        path=out,
        dev=load(out / "dev.jsonl").questions,
        test=load(out / "test.jsonl").questions,
        corpus=load_corpus(out / "corpus.jsonl"),
    )


@pytest.fixture
def snapshot(request):
    """Compare rendered text with ``tests/**/snapshots/NAME.txt``; FORAGE_UPDATE_SNAPSHOTS=1 rewrites.

    A missing snapshot is written and the test fails, so a new snapshot is always reviewed once.
    """
    import os
    from pathlib import Path

    folder = Path(request.node.fspath).parent / "snapshots"

    def check(name: str, text: str) -> None:
        path = folder / f"{name}.txt"
        if os.environ.get("FORAGE_UPDATE_SNAPSHOTS") == "1" or not path.exists():
            folder.mkdir(exist_ok=True)
            existed = path.exists()
            path.write_text(text)
            if not existed and os.environ.get("FORAGE_UPDATE_SNAPSHOTS") != "1":
                pytest.fail(f"new snapshot written: {path}; review it and rerun")
            return
        assert text == path.read_text(), f"rendered prompt drifted from {path}"

    return check
