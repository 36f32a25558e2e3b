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
