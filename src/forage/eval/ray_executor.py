"""Sweeps on a Ray cluster: cells run on actors that each keep a loaded model and search indexes.

``RayExecutor`` is the second ``Executor`` (``forage.eval.executor``). ``start(sweep)`` connects to
a cluster (``address``; none: a Ray instance local to this machine), puts the sweep (its questions,
corpora and strategies) into Ray's object store once and starts ``workers`` actors. Each actor
builds its backend once with ``llm_factory`` (an embedded model loaded per worker process, or a
client of a model server) and keeps one ``CellRunner`` (a BM25 index and the exemplars of each
dataset, built on first use) for its whole life. Each worker reports the ``BackendIdentity`` it
loaded; workers that disagree (another weights file on one node) are refused before any work.

``outcomes(sweep, cells)`` hands cells to the workers, ``in_flight`` at a time per worker (one
running, the next waiting, so a worker never idles on the round trip), and yields each outcome in
this (the driver's) process as it arrives: ``Sweep.run`` journals it there, once per cell. That
loop is the only scheduling forage does; placement, restarts and retries are Ray's.

Connecting. An ``address`` is first reached with a plain socket (is a gRPC server answering
there?), then joined with ``ray.init``, both within ``connect_timeout``: an address with nothing
behind it, or with something else than a Ray head, is one ``ConfigError`` naming it, instead of
``ray.init`` retrying for minutes and logging every few seconds. With ``quiet`` (the default) Ray's
Python logs below ERROR and its C++ core's lines while the workers are created are not shown.

Faults. A worker process that dies (killed, out of memory, its node lost) is restarted by Ray
(``max_restarts``) and the cells it had been handed are run again on it (``max_task_retries``);
nothing was journaled for them, so nothing is counted twice. A worker that is gone for good has
its cells handed to the others; a cell whose worker died under it ``max_cell_attempts`` times is a
failed cell (not journaled; a rerun tries it again), so one cell that crashes its process cannot
take down the whole cluster one worker at a time. When every worker is gone the sweep stops with
``EnvironmentProblem``; what was journaled stays.

The call cache. Workers share one ``CallCache``: an actor pinned to the driver's node owns the
SQLite file (one writer, as in a local sweep) and workers look calls up and store them through it
(``_RemoteCache``, a ``CallStore``). A call any worker made is replayed to every later one, so a
rerun or a resumed sweep replays exactly as a local one does, and replayed calls count their
original compute. Unlike the local executor, two cells that run at the same time on two workers
and make the same call both run it (the second store replaces the first, with the same request).

Not here: which cells run and the journal (``forage.eval.sweep``), running one cell
(``forage.eval.executor``), options and the backend recipe (``forage.cli.bench``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import pickle
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from ray.exceptions import ActorDiedError, RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from forage.core.errors import ConfigError, EnvironmentProblem
from forage.core.files import stderr_to_devnull
from forage.eval.executor import ABORT, CellRunner, Outcome
from forage.eval.journal import BackendIdentity, forage_version
from forage.llm.base import LLM, LLMRequest, LLMResponse
from forage.llm.cache import CacheMode, CallCache

if TYPE_CHECKING:
    from forage.eval.sweep import Cell, Sweep

logger = logging.getLogger(__name__)

LLMFactory = Callable[[], LLM]
Identify = Callable[[LLM], BackendIdentity]


@dataclass(frozen=True)
class RaySettings:
    """Where and how wide a sweep runs on Ray.

    ``address``: a running cluster (``"127.0.0.1:6379"``, ``"auto"``); ``None`` starts a Ray
    instance on this machine for the sweep and stops it after. ``workers``: actors to start
    (``None``: one per ``cpus_per_worker`` CPUs of the cluster). ``connect_timeout``: seconds to
    reach the cluster at ``address`` before giving up. ``start_timeout``: seconds to wait for every
    worker to load its backend. ``quiet``: Ray's own log lines are not shown (see above).
    """

    address: str | None = None
    workers: int | None = None
    cpus_per_worker: float = 1.0
    in_flight: int = 2
    max_restarts: int = 3
    max_task_retries: int = 3
    max_cell_attempts: int = 2
    start_timeout: float = 600.0
    connect_timeout: float = 30.0
    quiet: bool = True

    def __post_init__(self) -> None:
        if not (self.connect_timeout > 0 and math.isfinite(self.connect_timeout)):
            raise ConfigError(f"the Ray connect timeout must be a positive number of seconds, "
                              f"not {self.connect_timeout:g}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"workers must be at least 1, not {self.workers}")
        if not self.cpus_per_worker > 0:
            raise ConfigError(f"CPUs per worker must be positive, not {self.cpus_per_worker:g}")
        if self.in_flight < 1 or self.max_cell_attempts < 1:
            raise ConfigError("in_flight and max_cell_attempts must be at least 1")


# -- connecting -------------------------------------------------------------------------------


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``HOST:PORT`` or ``ray://HOST:PORT`` address; None for ``auto`` and
    anything else Ray resolves itself."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


# What an HTTP/2 client sends first, then an empty SETTINGS frame; a gRPC server (a Ray head's
# GCS, a Ray Client server) answers with a SETTINGS frame of its own (frame type 4).
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS = 4


def _probe(address: str, timeout: float) -> None:
    """Connect to the cluster's address with a plain socket and check that a gRPC server answers
    there, so that an address with nothing (or something else) behind it is one ``ConfigError``
    within ``timeout``, without Ray's retries and their log lines (``ray.init`` retries such an
    address for minutes)."""
    where = _host_port(address)
    if where is None:
        return
    hint = "is `ray start --head` running there?"
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection(where, timeout=timeout) as s:
            s.sendall(_HTTP2_HELLO)
            reply = b""
            while len(reply) < 9:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                got = s.recv(9 - len(reply))
                if not got:
                    break
                reply += got
    except OSError as e:
        why = (f"no answer within {timeout:g}s" if isinstance(e, TimeoutError) else
               (e.strerror or str(e) or type(e).__name__).lower())
        raise ConfigError(f"cannot connect to the Ray cluster at {address}: {why} ({hint})"
                          ) from None
    if len(reply) < 9 or reply[3] != _SETTINGS:
        raise ConfigError(f"cannot connect to the Ray cluster at {address}: something answers "
                          f"there, but not a Ray head ({hint})")


def _init_within(deadline: float, timeout: float, address: str,
                 kwargs: dict[str, Any]) -> None:
    """``ray.init`` that gives up at ``deadline`` (``time.monotonic()``; ``timeout`` is the
    seconds it stands for, as the message says them): a gRPC server that is no Ray head, or one
    that never finishes the handshake, would otherwise keep it retrying. It runs in a daemon
    thread, which is left behind when it does not finish."""
    done = threading.Event()
    failed: list[BaseException] = []

    def connect() -> None:
        try:
            ray.init(address=address, **kwargs)
        except BaseException as e:  # handed to the caller's thread
            failed.append(e)
        finally:
            done.set()

    threading.Thread(target=connect, name="forage-ray-init", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise ConfigError(f"cannot connect to the Ray cluster at {address}: Ray did not connect "
                          f"within {timeout:g}s (is it a Ray head's address? a slow cluster: "
                          "raise the connect timeout)")
    if failed:
        raise failed[0]


# -- the actors -------------------------------------------------------------------------------


class _CacheServer:
    """Owns the sweep's ``CallCache`` file; pinned to the driver's node."""

    def __init__(self, path: str, mode: CacheMode) -> None:
        self._cache = CallCache(path, mode)

    def get(self, model_id: str, request: LLMRequest) -> LLMResponse | None:
        return self._cache.get(model_id, request)

    def put(self, model_id: str, request: LLMRequest, response: LLMResponse) -> None:
        self._cache.put(model_id, request, response)

    def size(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        self._cache.close()


class _RemoteCache:
    """A worker's ``CallStore``: every lookup and store goes to the ``_CacheServer``. Stores wait
    for the server, so a call stored before a cell's result reached the driver is in the file."""

    def __init__(self, server: Any) -> None:
        self._server = server

    def get(self, model_id: str, request: LLMRequest) -> LLMResponse | None:
        return ray.get(self._server.get.remote(model_id, request))

    def put(self, model_id: str, request: LLMRequest, response: LLMResponse) -> None:
        ray.get(self._server.put.remote(model_id, request, response))


@dataclass(frozen=True)
class _Started:
    """What a worker reports once its backend is loaded (or the error that stopped it)."""

    name: str
    identity: BackendIdentity | None
    forage: str
    error: BaseException | None = None


@dataclass(frozen=True)
class _Aborted:
    """A cell whose error ends the sweep (``ABORT``), carried back to the driver to be raised."""

    cell: Cell
    error: BaseException
    worker: str


def _portable(e: BaseException) -> BaseException:
    """``e`` if it survives pickling, else its nearest ``ABORT`` class with the same message."""
    try:
        return pickle.loads(pickle.dumps(e))
    except Exception:
        cls = next((c for c in ABORT if isinstance(e, c)), EnvironmentProblem)
        return cls(str(e))


class _Worker:
    """One worker process: the backend, loaded once, and a ``CellRunner`` kept across cells."""

    def __init__(self, sweep_box: list[Any], llm_factory: LLMFactory, identify: Identify | None,
                 cache: Any | None) -> None:
        # The sweep comes as a reference inside a list, so Ray leaves it to the worker to fetch:
        # a restarted worker fetches it again from the object store (the driver holds it).
        sweep: Sweep = ray.get(sweep_box[0])
        node = ray.get_runtime_context().get_node_id()[:8]
        self._name = f"{os.getpid()}@{node}"
        self._loop = asyncio.new_event_loop()  # one loop for the worker's life (backends keep state)
        self._runner: CellRunner | None = None
        self._started: _Started
        try:
            llm = llm_factory()
            identity = identify(llm) if identify is not None else BackendIdentity.of(llm)
        except ABORT as e:  # reported by ``describe``, raised by the driver as one clean line
            self._started = _Started(self._name, None, forage_version(), _portable(e))
            return
        store = _RemoteCache(cache) if cache is not None else None
        self._runner = CellRunner(sweep, llm, store, worker=self._name)
        self._started = _Started(self._name, identity, forage_version())

    def describe(self) -> _Started:
        return self._started

    def run(self, cell: Cell) -> Outcome | _Aborted:
        assert self._runner is not None, "run() on a worker whose backend did not load"
        try:
            return self._loop.run_until_complete(self._runner.attempt(cell))
        except ABORT as e:
            return _Aborted(cell, _portable(e), self._name)


# -- the executor -----------------------------------------------------------------------------


class RayExecutor:
    """Runs a sweep's cells on Ray actors; see the module docstring. Use as a context manager (or
    call ``close``): it stops its actors, and the Ray instance it started."""

    def __init__(self, llm_factory: LLMFactory, *, identify: Identify | None = None,
                 cache_path: str | Path | None = None, cache_mode: CacheMode = "record",
                 settings: RaySettings | None = None) -> None:
        self.llm_factory = llm_factory
        self.identify = identify
        self.cache_path = Path(cache_path).resolve() if cache_path is not None else None
        self.cache_mode = cache_mode
        self.settings = settings or RaySettings()
        self.identity: BackendIdentity | None = None
        self.worker_names: list[str] = []  # the workers as started (pid@node)
        self.served: Counter[str] = Counter()  # outcomes per worker process, restarted ones too
        self._sweep: Sweep | None = None
        self._sweep_ref: Any = None
        self._workers: list[Any] = []
        self._cache: Any = None
        self._owns_ray = False

    # -- life cycle ---------------------------------------------------------------------------

    def _connect(self) -> None:
        if ray.is_initialized():
            return
        s = self.settings
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "logging_level": logging.ERROR if s.quiet else logging.INFO,
        }
        if s.address is None:
            # Ray runs workers 15 niceness steps below the process that starts it; on a machine
            # that also runs other work that starves the sweep. Local workers run at this
            # process's priority, as the local executor's cells do.
            kwargs["_system_config"] = {"worker_niceness": 0}
            if s.workers is not None:  # a local instance wide enough
                kwargs["num_cpus"] = max(os.cpu_count() or 1,
                                         int(s.workers * s.cpus_per_worker + 0.999))
        try:
            if s.address is None:  # starting a local instance: as long as it takes
                ray.init(**kwargs)
            else:
                deadline = time.monotonic() + s.connect_timeout
                _probe(s.address, s.connect_timeout)
                _init_within(deadline, s.connect_timeout, s.address, kwargs)
        except ConnectionError as e:
            raise ConfigError(f"cannot connect to the Ray cluster at {s.address}: "
                              f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        self._owns_ray = True

    def start(self, sweep: Sweep) -> BackendIdentity:
        """Connect, start the workers for ``sweep`` and wait until each has loaded its backend;
        returns the identity they all report. Raises what a worker's backend raised while loading
        (``ModelLoadError``, ``ConnectError``, ...), ``ConfigError`` when workers disagree or the
        cluster is too small, ``EnvironmentProblem`` when they do not start in time."""
        if self._sweep is not None:
            if sweep is not self._sweep:
                raise ConfigError("this RayExecutor was started for another sweep")
            assert self.identity is not None
            return self.identity
        self._connect()
        s = self.settings
        cpus = float(ray.cluster_resources().get("CPU", 0))
        n = s.workers or max(1, int(cpus // s.cpus_per_worker))
        if n * s.cpus_per_worker > cpus:
            raise ConfigError(f"the Ray cluster has {cpus:g} CPUs; {n} worker(s) of "
                              f"{s.cpus_per_worker:g} CPU need {n * s.cpus_per_worker:g}")
        if self.cache_path is not None:
            here = ray.get_runtime_context().get_node_id()
            self._cache = ray.remote(_CacheServer).options(
                num_cpus=0, max_restarts=-1, max_task_retries=-1,
                scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False),
            ).remote(str(self.cache_path), self.cache_mode)
        self._sweep_ref = ray.put(sweep)
        worker_cls = ray.remote(_Worker).options(
            num_cpus=s.cpus_per_worker, max_restarts=s.max_restarts,
            max_task_retries=s.max_task_retries,
        )
        # the sweep's reference is an argument in the object store: Ray's core logs an E line
        with stderr_to_devnull() if s.quiet else contextlib.nullcontext():
            self._workers = [worker_cls.remote([self._sweep_ref], self.llm_factory, self.identify,
                                               self._cache) for _ in range(n)]
        try:
            started: list[_Started] = ray.get([w.describe.remote() for w in self._workers],
                                              timeout=s.start_timeout)
        except ray.exceptions.GetTimeoutError:
            raise EnvironmentProblem(f"{n} Ray worker(s) did not load their backend within "
                                     f"{s.start_timeout:g}s") from None
        except RayError as e:
            raise EnvironmentProblem(f"a Ray worker failed to start: {e}") from None
        for st in started:
            if st.error is not None:
                raise st.error
        identities = {st.identity for st in started}
        versions = {st.forage for st in started} | {forage_version()}
        if len(identities) != 1:
            raise ConfigError("the Ray workers loaded different backends: " + "; ".join(
                f"{st.name}: {st.identity}" for st in started))
        if len(versions) != 1:
            raise ConfigError(f"the Ray workers run other forage versions: {sorted(versions)}")
        self.identity = identities.pop()
        self.worker_names = [st.name for st in started]
        self._sweep = sweep
        logger.info("%d Ray worker(s) ready: %s", n, ", ".join(self.worker_names))
        return self.identity

    def close(self) -> None:
        for w in self._workers:
            ray.kill(w, no_restart=True)
        self._workers = []
        if self._cache is not None:
            try:
                ray.get(self._cache.close.remote(), timeout=60)
            except RayError as e:
                logger.warning("the call cache actor did not close cleanly: %s", e)
            ray.kill(self._cache, no_restart=True)
            self._cache = None
        self._sweep_ref = None
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the Executor interface ---------------------------------------------------------------

    def matches(self, backend: BackendIdentity) -> bool:
        if self.identity is None:
            raise ConfigError("start the RayExecutor before running a sweep on it")
        if self.identify is None:  # only what any backend declares: model and prompt profile
            return (self.identity.model, self.identity.profile) == (backend.model, backend.profile)
        return self.identity == backend

    async def outcomes(self, sweep: Sweep, cells: Sequence[Cell]) -> AsyncIterator[Outcome]:
        self.start(sweep)
        s = self.settings
        queue: deque[Cell] = deque(cells)
        attempts: dict[Any, int] = {}
        live = set(range(len(self._workers)))
        busy = dict.fromkeys(live, 0)
        pending: dict[asyncio.Future[Any], tuple[Cell, int]] = {}

        def fill() -> None:
            while queue and live:
                w = min(live, key=lambda i: busy[i])
                if busy[w] >= s.in_flight:
                    return
                cell = queue.popleft()
                ref = self._workers[w].run.remote(cell)
                pending[asyncio.wrap_future(ref.future())] = (cell, w)
                busy[w] += 1

        fill()
        try:
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    cell, w = pending.pop(fut)
                    busy[w] -= 1
                    try:
                        got = fut.result()
                    except RayError as e:  # restarts and retries spent, unreachable, lost
                        outcome = self._lost(cell, w, e, attempts, live, queue)
                        if outcome is not None:
                            yield outcome
                        continue
                    if isinstance(got, _Aborted):
                        raise got.error
                    fill()
                    self.served[got.worker] += 1
                    yield got
                fill()
        finally:
            for fut in pending:
                fut.cancel()

    def _lost(self, cell: Cell, w: int, e: RayError, attempts: dict[Any, int],
              live: set[int], queue: deque[Cell]) -> Outcome | None:
        """A cell Ray could not run (its worker died under it, restarts spent): handed on, or a
        failure after ``max_cell_attempts``."""
        if isinstance(e, ActorDiedError) and w in live:
            live.discard(w)
            logger.warning("Ray worker %d is gone for good (%s); %d left", w, type(e).__name__,
                           len(live))
        attempts[cell.key] = attempts.get(cell.key, 0) + 1
        if attempts[cell.key] >= self.settings.max_cell_attempts:
            first = str(e).splitlines()[0][:200] if str(e) else ""
            return Outcome(cell, error=f"Ray could not run it {attempts[cell.key]} time(s) (its "
                                       f"worker died: {type(e).__name__}: {first})", worker=f"#{w}")
        if not live:
            raise EnvironmentProblem(
                f"every Ray worker is gone ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
                "the finished cells are journaled: rerun to resume")
        queue.appendleft(cell)
        return None


__all__ = ["RayExecutor", "RaySettings"]
