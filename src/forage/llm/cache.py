"""A content-addressed call cache in SQLite: (model id, request incl. seed) -> response.

Modes: ``off`` (never read or write), ``record`` (answer from the cache when the call is there, else
run it and store the response), ``replay`` (answer only from the cache; a miss is an error, so a
replay can never silently spend compute). A replayed response carries its original usage: the
ledger marks it replayed but charges its original compute, so no efficiency figure is ever computed
from cache-discounted costs.

The cache is disposable: a damaged file (not a database, malformed pages) is moved aside to
``<name>.corrupt`` with a warning and the cache starts empty, and a write that fails because the
disk is full or read-only turns writing off with a warning (the sweep's journal, not the cache,
keeps finished work). Only a ``replay`` cache refuses a damaged file, since it must not recompute.

``CallStore`` is the two-method interface the metering layer uses (``get``, ``put``); ``CallCache``
is the SQLite one, and a sweep on Ray gives its workers a proxy of the driver's ``CallCache``
(``forage.eval.ray_executor``).

Not here: metering (``forage.llm.metered``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Literal, Protocol

from forage.core.errors import ConfigError, CorruptFile
from forage.core.files import sqlite_environment_problem
from forage.llm.base import LLMRequest, LLMResponse

log = logging.getLogger(__name__)

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
    fields = request.model_dump(mode="json")
    if not fields["top_logprobs"]:  # added later: keys of requests without it stay as they were
        del fields["top_logprobs"]
    payload = json.dumps({"model": model_id, "request": fields}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class CallStore(Protocol):
    """Where metered calls are looked up and stored: ``CallCache`` or a proxy of one."""

    def get(self, model_id: str, request: LLMRequest) -> LLMResponse | None: ...

    def put(self, model_id: str, request: LLMRequest, response: LLMResponse) -> None: ...


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
            try:
                self._db = self._connect()
            except sqlite3.OperationalError as e:
                problem = sqlite_environment_problem(e, self.path, "cannot open the call cache")
                if problem is not None:
                    raise problem from e
                raise
            except sqlite3.DatabaseError as e:
                if mode == "replay":
                    raise CorruptFile(
                        f"call cache {self.path} is damaged ({e}); a replay needs an intact cache",
                        path=str(self.path),
                    ) from e
                self._db = self._set_aside(e)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False)
        try:
            db.execute(_SCHEMA)
            db.commit()
            (verdict,) = db.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {verdict}")
        except BaseException:
            db.close()
            raise
        return db

    def _set_aside(self, why: Exception) -> sqlite3.Connection:
        """Move a damaged cache file (and its -wal/-shm files) aside and start an empty one."""
        aside = self.path.with_name(self.path.name + ".corrupt")
        for suffix in ("", "-wal", "-shm", "-journal"):
            src = self.path.with_name(self.path.name + suffix)
            if src.exists():
                src.replace(aside.with_name(aside.name + suffix))
        log.warning("call cache %s is damaged (%s); moved it to %s and starting an empty cache "
                    "(cached calls will be recomputed; the journal keeps finished results)",
                    self.path, why, aside)
        return self._connect()

    def get(self, model_id: str, request: LLMRequest) -> LLMResponse | None:
        if self._db is None:
            return None
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT response FROM calls WHERE key = ?", (cache_key(model_id, request),)
                ).fetchone()
            except sqlite3.DatabaseError as e:  # damaged after opening: a miss, not a failure
                if self.mode == "replay":
                    raise CorruptFile(f"call cache {self.path} is damaged ({e})",
                                      path=str(self.path)) from e
                log.warning("call cache %s: read failed (%s); treating it as a miss", self.path, e)
                row = None
        if row is None:
            if self.mode == "replay":
                raise CacheMiss(f"no cached response for this {model_id} call (replay mode)")
            return None
        return LLMResponse.model_validate_json(row[0])

    def put(self, model_id: str, request: LLMRequest, response: LLMResponse) -> None:
        if self._db is None or self.mode != "record":
            return
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO calls (key, model, request, response) "
                    "VALUES (?, ?, ?, ?)",
                    (
                        cache_key(model_id, request),
                        model_id,
                        request.model_dump_json(),
                        response.model_dump_json(),
                    ),
                )
                self._db.commit()
            except sqlite3.DatabaseError as e:  # full or read-only disk, damaged file
                with contextlib.suppress(sqlite3.Error):
                    self._db.rollback()
                self.mode = "off"
                log.warning("call cache %s: cannot write (%s); caching is off for this run",
                            self.path, e)

    def __len__(self) -> int:
        if self._db is None:
            return 0
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
