"""A content-addressed call cache in SQLite: (model id, request incl. seed) -> response.

Modes: ``off`` (never read or write), ``record`` (answer from the cache when the call is there, else
run it and store the response), ``replay`` (answer only from the cache; a miss is an error, so a
replay can never silently spend compute). A replayed response carries its original usage: the
ledger marks it replayed but charges its original compute, so no efficiency figure is ever computed
from cache-discounted costs.

Not here: metering (``forage.llm.metered``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Literal

from forage.core.errors import ConfigError
from forage.llm.base import LLMRequest, LLMResponse

CacheMode = Literal["off", "record", "replay"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now'))
)
"""


class CacheMiss(ConfigError):
    """A replay-mode cache has no stored response for a request."""


def cache_key(model_id: str, request: LLMRequest) -> str:
    payload = json.dumps(
        {"model": model_id, "request": request.model_dump(mode="json")}, sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()


class CallCache:
    """SQLite-backed store of LLM responses keyed by ``cache_key``."""

    def __init__(self, path: str | Path, mode: CacheMode = "record") -> None:
        if mode not in ("off", "record", "replay"):
            raise ConfigError(f"unknown cache mode {mode!r} (off, record, replay)")
        self.mode: CacheMode = mode
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if mode != "off":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute(_SCHEMA)
            self._db.commit()

    def get(self, model_id: str, request: LLMRequest) -> LLMResponse | None:
        if self._db is None:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT response FROM calls WHERE key = ?", (cache_key(model_id, request),)
            ).fetchone()
        if row is None:
            if self.mode == "replay":
                raise CacheMiss(f"no cached response for this {model_id} call (replay mode)")
            return None
        return LLMResponse.model_validate_json(row[0])

    def put(self, model_id: str, request: LLMRequest, response: LLMResponse) -> None:
        if self._db is None or self.mode != "record":
            return
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO calls (key, model, request, response) VALUES (?, ?, ?, ?)",
                (
                    cache_key(model_id, request),
                    model_id,
                    request.model_dump_json(),
                    response.model_dump_json(),
                ),
            )
            self._db.commit()

    def __len__(self) -> int:
        if self._db is None:
            return 0
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
