"""The call cache is disposable: a damaged file is set aside, a failing disk turns writing off."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from forage.core.errors import CorruptFile
from forage.llm.base import Choice, LLMRequest, LLMResponse, TokenUsage
from forage.llm.cache import CallCache

REQUEST = LLMRequest(prompt="The capital of France is", max_tokens=4)
RESPONSE = LLMResponse(choices=(Choice(text="Paris"),), model="m", usage=TokenUsage(prompt_tokens=5,
                                                                         completion_tokens=1))


def test_a_damaged_cache_is_moved_aside_with_a_warning_and_starts_empty(tmp_path, caplog):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    with caplog.at_level(logging.WARNING, logger="forage.llm.cache"):
        cache = CallCache(path, "record")
    assert len(cache) == 0
    assert (tmp_path / "cache.sqlite.corrupt").read_bytes().startswith(b"not a database")
    assert any("damaged" in r.message and str(path) in r.message for r in caplog.records)
    cache.put("m", REQUEST, RESPONSE)
    assert cache.get("m", REQUEST) == RESPONSE
    cache.close()


def test_a_replay_cache_refuses_a_damaged_file_naming_it(tmp_path):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"garbage" * 100)
    with pytest.raises(CorruptFile, match="cache.sqlite is damaged"):
        CallCache(path, "replay")
    assert path.read_bytes() == b"garbage" * 100


def test_a_failing_write_turns_caching_off_instead_of_failing_the_run(tmp_path, caplog):
    cache = CallCache(tmp_path / "cache.sqlite", "record")

    class Full:
        def execute(self, *a: object) -> None:
            raise sqlite3.OperationalError("database or disk is full")

        def rollback(self) -> None:
            pass

    real = cache._db
    cache._db = Full()  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="forage.llm.cache"):
        cache.put("m", REQUEST, RESPONSE)
    assert cache.mode == "off"
    assert any("disk is full" in r.message for r in caplog.records)
    cache._db = real
    cache.close()
