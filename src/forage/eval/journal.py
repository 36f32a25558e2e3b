"""The sweep journal: every finished (dataset, question, strategy, budget, seed) result in SQLite.

A row is written and committed the moment its cell finishes, so a sweep killed at any point loses
at most the cell that was running. The journal stores the configuration of the sweep that created
it (``SweepConfig``: a hash of each dataset file, the strategies with their knob ladders, the
budgets, seeds, the backend (``BackendIdentity``: its kind, the model, the prompt profile and the
weights' sha256 or the server's reported model), the cost model, the exemplar settings and
forage's version); opening it with a different configuration raises ``ConfigError`` naming what
changed, instead of mixing results of two sweeps.

An open journal holds an exclusive lock on ``<journal>.lock`` (``forage.core.files.FolderLock``;
the kernel drops it when the process ends, ``kill -9`` included), so a second sweep into the same
folder is refused with ``FolderInUse`` instead of doing the same work twice. A damaged journal is
refused with ``CorruptFile`` naming the file and what to do, and never modified; a full or
read-only disk is an ``EnvironmentProblem``. Rows already committed survive either.

The schema evolves through named, append-only migrations (the style of simonw/llm's
``migrations.py``): each is applied once, in order, and recorded in ``_migrations``. Never edit or
reorder a migration that has shipped; add a new one.

Not here: running cells (``forage.eval.sweep``), aggregating them (``forage.report.statistics``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from forage.allocation.steps import StepKey, StepRecord
from forage.core.errors import ConfigError, CorruptFile, EnvironmentProblem
from forage.core.files import FolderLock, environment_problem, sqlite_environment_problem
from forage.report.results import Result
from forage.llm.base import LLM

logger = logging.getLogger(__name__)

# -- configuration -----------------------------------------------------------------------------


def forage_version() -> str:
    """The installed forage's version ("unknown" when it runs from a source tree only)."""
    try:
        return importlib.metadata.version("forage")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class BackendIdentity:
    """Which model answered, and how: two backends serving a model of the same name are not the
    same backend (completion vs chat prompts, other weights, another server).

    ``kind``: "embedded", "openai-compatible", or a test double's class name; ``model``: the
    backend's model id; ``profile``: the prompt profile it declares (``completion``/``chat``);
    ``weights``: the sha256 of the embedded model file, or the model the server reported.
    """

    kind: str
    model: str
    profile: str
    weights: str = ""

    @classmethod
    def of(cls, llm: LLM, *, kind: str | None = None, weights: str = "") -> BackendIdentity:
        return cls(kind or type(llm).__name__, llm.model_id, llm.capabilities.prompt_profile,
                   weights)

    def matches(self, llm: LLM) -> bool:
        """Whether ``llm`` declares this identity's model and prompt profile."""
        return (llm.model_id, llm.capabilities.prompt_profile) == (self.model, self.profile)


@dataclass(frozen=True)
class SweepConfig:
    """Everything that decides a cell's result, apart from which questions are in the sweep.

    ``datasets`` maps a dataset name to the sha256 of its file(s); ``strategies`` maps a strategy
    name to ``[knob name, ladder]``. The question selection (``--limit``, ``--split``) is left out
    on purpose: cells are keyed by question id, so a larger ``--limit`` extends a journal.
    """

    datasets: Mapping[str, str]
    strategies: Mapping[str, tuple[str, tuple[int, ...]]]
    budgets: tuple[float, ...]
    seeds: tuple[int, ...]
    backend: BackendIdentity
    exemplars: Mapping[str, Any] = field(default_factory=dict)
    cost_model: Mapping[str, float] = field(default_factory=dict)
    forage: str = field(default_factory=forage_version)
    # The batch allocation's settings (``--allocation adaptive``); empty for uniform budgets, and
    # then left out of the stored configuration, so journals written before it still open.
    allocation: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.allocation:
            del d["allocation"]
        d["datasets"] = dict(sorted(self.datasets.items()))
        d["strategies"] = {k: [v[0], list(v[1])] for k, v in sorted(self.strategies.items())}
        d["budgets"] = [float(b) for b in self.budgets]
        d["seeds"] = list(self.seeds)
        d["exemplars"] = dict(sorted(self.exemplars.items()))
        d["cost_model"] = dict(sorted(self.cost_model.items()))
        return d

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def file_digest(*paths: str | Path) -> str:
    """sha256 over the bytes of ``paths`` (in the given order)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _differences(stored: Mapping[str, Any], wanted: Mapping[str, Any], prefix: str = ""
                 ) -> list[str]:
    """What changed, key by key (one level into mappings: ``datasets.x changed``)."""
    out = []
    for key in sorted(set(stored) | set(wanted)):
        a, b = stored.get(key), wanted.get(key)
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping) and not prefix:
            out.extend(_differences(a, b, prefix=f"{key}."))
        elif a is None or b is None:
            out.append(f"{prefix}{key} {'added' if a is None else 'removed'}")
        elif prefix.startswith("datasets"):
            out.append(f"{prefix}{key} file changed")
        else:
            out.append(f"{prefix}{key} {json.dumps(a)} -> {json.dumps(b)}")
    return out


# -- migrations ------------------------------------------------------------------------------

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE config (id INTEGER PRIMARY KEY CHECK (id = 1), digest TEXT NOT NULL, "
               "config TEXT NOT NULL, created REAL NOT NULL DEFAULT (julianday('now')))")
    db.execute(
        """CREATE TABLE results (
            dataset TEXT NOT NULL,
            question_id TEXT NOT NULL,
            strategy TEXT NOT NULL,
            budget REAL NOT NULL,
            seed INTEGER NOT NULL,
            knob INTEGER,
            result TEXT NOT NULL,
            created REAL NOT NULL DEFAULT (julianday('now')),
            PRIMARY KEY (dataset, question_id, strategy, budget, seed)
        )"""
    )


@migration
def m002_result_summary_columns(db: sqlite3.Connection) -> None:
    for col in ("em REAL", "f1 REAL", "acc REAL", "compute REAL", "seconds REAL"):
        db.execute(f"ALTER TABLE results ADD COLUMN {col}")


@migration
def m003_allocation_steps(db: sqlite3.Connection) -> None:
    """One row per rung an adaptive allocation ran for a question (``forage.allocation``)."""
    db.execute(
        """CREATE TABLE steps (
            dataset TEXT NOT NULL,
            policy TEXT NOT NULL,
            budget REAL NOT NULL,
            seed INTEGER NOT NULL,
            question_id TEXT NOT NULL,
            step INTEGER NOT NULL,
            record TEXT NOT NULL,
            created REAL NOT NULL DEFAULT (julianday('now')),
            PRIMARY KEY (dataset, policy, budget, seed, question_id, step)
        )"""
    )


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the migrations not applied yet; returns their names."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, "
               "applied REAL NOT NULL DEFAULT (julianday('now')))")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        with db:
            fn(db)
            db.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
        applied.append(name)
    return applied


# -- the journal -----------------------------------------------------------------------------

CellKey = tuple[str, str, str, float, int]  # dataset, question id, strategy, budget, seed


class Journal:
    """An open journal bound to one ``SweepConfig``. Use ``Journal.open``."""

    def __init__(self, db: sqlite3.Connection, path: Path, config: SweepConfig,
                 lock: FolderLock | None = None) -> None:
        self._db = db
        self.path = path
        self.config = config
        self._lock = lock

    @staticmethod
    def lock(path: str | Path) -> FolderLock:
        """Take the lock of the journal at ``path`` (creating its folder): ``FolderInUse`` while
        another process holds it. ``open`` takes it itself unless given one taken earlier."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise environment_problem(e, "cannot create the output folder") from e
        return FolderLock(path.with_name(path.name + ".lock"),
                          f"output folder {path.parent}").acquire()

    @classmethod
    def open(cls, path: str | Path, config: SweepConfig, *, lock: FolderLock | None = None
             ) -> Journal:
        """Open (or create) the journal at ``path`` for ``config``, holding its lock (``lock``,
        from ``Journal.lock(path)``, or one taken here) until ``close``.

        Raises ``ConfigError`` when the journal was written by a sweep with another configuration,
        ``FolderInUse`` while another process has it open, ``CorruptFile`` when it is damaged and
        ``EnvironmentProblem`` when the disk refuses.
        """
        path = Path(path)
        if lock is None:
            lock = cls.lock(path)
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(path, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            (verdict,) = db.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"integrity check: {verdict}")
            migrate(db)
            row = db.execute("SELECT digest, config FROM config WHERE id = 1").fetchone()
            wanted = config.to_dict()
            if row is None:
                with db:
                    db.execute("INSERT INTO config (id, digest, config) VALUES (1, ?, ?)",
                               (config.digest(), json.dumps(wanted, sort_keys=True)))
            elif row[0] != config.digest():
                diffs = "; ".join(_differences(json.loads(row[1]), wanted))
                raise ConfigError(
                    f"journal {path} belongs to a different sweep ({diffs}); "
                    "use another output folder to start a new sweep"
                )
        except BaseException as e:
            if db is not None:
                db.close()
            lock.release()
            if isinstance(e, sqlite3.DatabaseError):
                raise _sqlite_problem(e, path) from e
            raise
        return cls(db, path, config, lock)

    def record(self, result: Result) -> None:
        """Store one finished cell, committed before this returns."""
        try:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO results (dataset, question_id, strategy, budget, seed, "
                    "knob, result, em, f1, acc, compute, seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (result.dataset, result.question_id, result.strategy, float(result.budget),
                     result.seed, result.knob, json.dumps(result.to_dict()), result.em, result.f1,
                     result.acc, result.compute, result.seconds),
                )
        except sqlite3.DatabaseError as e:
            raise _sqlite_problem(e, self.path) from e

    def step(self, key: StepKey) -> StepRecord | None:
        """The stored rung run of an adaptive allocation with this key, if any."""
        try:
            row = self._db.execute(
                "SELECT record FROM steps WHERE dataset=? AND policy=? AND budget=? AND seed=? "
                "AND question_id=? AND step=?", (key[0], key[1], float(key[2]), key[3], key[4],
                                                 key[5])).fetchone()
        except sqlite3.DatabaseError as e:
            raise _sqlite_problem(e, self.path) from e
        if row is None:
            return None
        try:
            return StepRecord.from_dict(json.loads(row[0]))
        except (ValueError, KeyError, TypeError) as e:
            raise _corrupt(self.path, f"step {key} is not a step record: {type(e).__name__}"
                           ) from e

    def record_step(self, key: StepKey, record: StepRecord) -> None:
        """Store one rung run, committed before this returns."""
        try:
            with self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO steps (dataset, policy, budget, seed, question_id, "
                    "step, record) VALUES (?,?,?,?,?,?,?)",
                    (key[0], key[1], float(key[2]), key[3], key[4], key[5],
                     json.dumps(record.to_dict())))
        except sqlite3.DatabaseError as e:
            raise _sqlite_problem(e, self.path) from e

    def done(self) -> set[CellKey]:
        """The keys of every stored cell."""
        rows = self._db.execute(
            "SELECT dataset, question_id, strategy, budget, seed FROM results"
        )
        return {(d, q, s, float(b), int(seed)) for d, q, s, b, seed in rows}

    def results(self) -> Iterator[Result]:
        """Every stored result, in the order they were written."""
        try:
            rows = self._db.execute(RESULT_ROWS).fetchall()
        except sqlite3.DatabaseError as e:
            raise _sqlite_problem(e, self.path) from e
        yield from _parse_results(rows, self.path)

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def close(self) -> None:
        self._db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _corrupt(path: Path, why: object) -> CorruptFile:
    return CorruptFile(
        f"journal {path} is damaged ({why}) and was left as it is; it holds this sweep's finished "
        "results: restore it from a copy, or move it aside (or choose another --out) to start over",
        path=str(path),
    )


def _sqlite_problem(e: sqlite3.DatabaseError, path: Path) -> Exception:
    """A SQLite error on the journal: the disk's fault (full, read-only) or a damaged file."""
    if isinstance(e, sqlite3.OperationalError):
        problem = sqlite_environment_problem(e, path, "cannot write the journal")
        if problem is not None:
            return problem
        if "locked" in str(e).lower():  # another program holds a SQLite lock: not damage
            return EnvironmentProblem(f"journal {path} is locked by another program; close it and "
                                      "rerun")
    return _corrupt(path, e)


def journaled_results(path: str | Path) -> list[Result]:
    """Every result stored in the journal at ``path``, read without opening it for a sweep (no
    configuration check, no lock): what ``--allocation oracle`` and ``--against`` read.
    ``ConfigError`` when there is no journal there; ``CorruptFile`` when it is damaged."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no journal at {path}: run a uniform sweep into that folder first")
    return list(_parse_results(_read_only(path, RESULT_ROWS), path))


RESULT_ROWS = "SELECT rowid, result FROM results ORDER BY rowid"


def _parse_results(rows: list[tuple[Any, ...]], path: Path) -> Iterator[Result]:
    """The results stored in ``rows`` (rowid, JSON); ``CorruptFile`` for one that is not."""
    for rowid, text in rows:
        try:
            yield Result.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError) as e:
            raise _corrupt(path, f"row {rowid} is not a result: {type(e).__name__}") from e


def journaled_backend(path: str | Path) -> BackendIdentity:
    """The backend recorded in the configuration of the journal at ``path`` (read-only)."""
    rows = _read_only(Path(path), "SELECT config FROM config WHERE id = 1")
    if not rows:
        raise _corrupt(Path(path), "it has no configuration")
    return BackendIdentity(**json.loads(rows[0][0])["backend"])


def _read_only(path: Path, query: str) -> list[tuple[Any, ...]]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return db.execute(query).fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        raise _sqlite_problem(e, path) from e


def cell_key(result: Result) -> CellKey:
    return (result.dataset, result.question_id, result.strategy, float(result.budget), result.seed)


__all__ = [
    "BackendIdentity",
    "CellKey",
    "Journal",
    "MIGRATIONS",
    "SweepConfig",
    "cell_key",
    "file_digest",
    "forage_version",
    "journaled_backend",
    "journaled_results",
    "migrate",
]
