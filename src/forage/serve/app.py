"""The ``forage serve`` application: OpenAI's chat-completions API in front of forage's strategies.

Routes: ``POST /v1/chat/completions`` (``model: "forage-<strategy>"``, plain or ``stream: true``),
``GET /v1/models``, ``GET /v1/traces`` (the newest runs), ``GET /v1/traces/{id}`` (one run as JSON),
``GET /view/{id}`` (the trace viewer), ``GET /health``.

Each request runs one strategy through the driver (``forage.runtime.driver.run``) with the LLM
backend and corpora given at start-up, under a fresh ``Budget`` built from the request
(``forage.serve.protocol``). The response's ``usage`` is the ledger's: every token of every call
the run made, the hidden planner, executor and verifier calls included; its ``forage`` object has
the trace id, the budget and what was spent, the per-node ledger and the viewer's address.
A request for ``auto`` (``forage.serve.protocol``) runs the adaptive cascade instead
(``forage.serve.auto``) under a grant of ``min(per-request cap, the ladder's total, what its key has
left outside the reserve)``; its ``forage`` object adds ``rung`` (the rung whose answer was kept),
``rungs`` (one summary per rung run) and ``budget.granted``.
Streamed, the run sends one chunk per finished call or search (``choices: []``, a ``forage``
event), then the answer, a final chunk with ``finish_reason`` and the ``forage`` object, the usage
chunk when ``stream_options.include_usage`` is set, and ``[DONE]``.

Limits: an API key (``Authorization: Bearer``) unless the server was started without one (allowed
on loopback only, ``settings.check_bind``); the viewer also accepts a per-trace token, an HMAC of
the trace id under the key, so a link can be opened in a browser without handing out the key.
Request bodies are read up to ``max_body_bytes`` (413 beyond); at most ``max_concurrency`` runs
at once and ``max_queue`` waiting (429 beyond, with ``Retry-After``); a run longer than
``request_timeout`` is cancelled (504). With ``key_budget`` set, each API key (the
``Authorization: Bearer`` token as sent; requests without one share one anonymous bucket) has that
many compute units per ``key_window`` seconds (``forage.serve.quota``): a request's budget is
reserved before it queues and settled to what it spent when it ends (a cancelled cascade is charged
the ``Meter``'s estimate); a numeric budget larger than what is left is refused with 429 and
``Retry-After`` (400 when it exceeds the whole window budget), as is an ``auto`` request once not even
the cheapest step fits. A client that disconnects cancels its run: the run's task
is cancelled at its next await, so no further model call or search starts (a call already inside
the embedded model finishes first). Every refusal is an OpenAI-style error object; the server
keeps serving.

Retrieved documents are data. The budget, its caps, the strategy, its knob and the tool set of a
run are fixed from the request before the run starts, and nothing in a run reads them back from
text: documents reach the model only as passages inside the reader's prompt, model output is
parsed only into search queries and answers, and every query goes to the run's own tool under the
same budget, so a document that says "ignore the budget" can at most change what the model writes
(tests/serve/test_injection.py shows a model that obeys it still cannot overspend). The viewer
escapes every text.

Not here: parsing requests (``protocol``), limits' values (``settings``), HTML (``viewer``), the
command line (``forage.cli.serve``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from forage.core.budget import Budget, Caps, Usage
from forage.core.budget_rules import min_budget
from forage.core.errors import BackendError, ConfigError
from forage.llm.base import LLM
from forage.runtime.base import Answer
from forage.runtime.driver import run
from forage.runtime.ask import build_strategy
from forage.search.base import SearchTool
from forage.report.results import Result
from forage.serve.auto import (
    Meter,
    auto_cap,
    cascade_summary,
    first_step,
    ledger_summary,
    run_cascade,
)
from forage.serve.events import Emit, ObservedLLM, ObservedSearch
from forage.serve.protocol import (
    CASCADE,
    ApiError,
    RunRequest,
    chunk_body,
    completion_body,
    model_name,
    parse_chat_request,
    parse_json,
    served_strategies,
    sse,
)
from forage.serve.quota import Hold, KeyWindows, bucket, unmetered
from forage.serve.settings import NOT_SERVED, ServeSettings
from forage.serve.traces import RunStatus, TraceRecord, TraceStore, searched_ids
from forage.serve.viewer import render_page

log = logging.getLogger(__name__)

DISCONNECT_POLL_S = 0.2
STREAM_PIECE_WORDS = 4  # words per answer chunk of a streamed response


class Limiter:
    """At most ``running`` runs at once and ``waiting`` queued; ``admit`` refuses beyond (429)."""

    def __init__(self, running: int, waiting: int) -> None:
        self._slots = asyncio.Semaphore(running)
        self._cap = running + waiting
        self.admitted = 0

    def admit(self) -> Ticket:
        if self.admitted >= self._cap:
            raise ApiError(429, "the server is busy: too many requests running and queued; "
                           "retry shortly", type="rate_limit_error", code="server_busy",
                           headers={"Retry-After": "1"})
        self.admitted += 1
        return Ticket(self)


class Ticket:
    """One admitted request: ``async with ticket`` waits for a run slot; ``release`` (idempotent)
    gives the admission back."""

    def __init__(self, limiter: Limiter) -> None:
        self._limiter = limiter
        self._released = False
        self._holding = False

    async def __aenter__(self) -> Ticket:
        await self._limiter._slots.acquire()
        self._holding = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._holding:
            self._holding = False
            self._limiter._slots.release()
        self.release()

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._limiter.admitted -= 1


class _TicketedStream(StreamingResponse):
    """A streamed response that gives its ticket back however the response ends, even when the
    client left before the body generator started."""

    def __init__(self, content: AsyncIterator[bytes], ticket: Ticket, run: _Run) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._ticket = ticket
        self._run = run

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._ticket.release()
            self._run.hold.settle(self._run.spent)  # a no-op once the stream has settled it


@dataclass
class _Run:
    """One request being answered."""

    trace_id: str
    created: int
    req: RunRequest
    budget: Budget  # the run's (for the cascade: its grant, spent rung by rung in ``result``)
    hold: Hold  # the units reserved in the key's window
    answer: Answer | None = None
    result: Result | None = None  # the cascade's
    meter: Meter | None = None  # the cascade's calls so far
    status: RunStatus = "failed"

    @property
    def spent(self) -> float:
        if not self.req.cascade:
            return self.budget.spent
        if self.result is not None:
            return self.result.compute
        return self.meter.spent if self.meter is not None else 0.0

    @property
    def text(self) -> str:
        if self.result is not None:
            return self.result.prediction
        return self.answer.text if self.answer is not None else ""

    @property
    def sources(self) -> list[str]:
        if self.result is not None:
            return list(self.result.trace.get("sources", []))
        return list(self.answer.sources) if self.answer is not None else []

    @property
    def exhausted(self) -> bool:
        if self.result is not None:
            return self.result.exhausted
        return self.answer is not None and self.answer.exhausted

    @property
    def usage(self) -> Usage:
        if self.req.cascade:
            if self.result is not None:
                return Usage.from_dict(self.result.usage)
            return self.meter.usage if self.meter is not None else Usage()
        return self.budget.ledger.usage

    def tree(self) -> dict[str, Any]:
        if self.result is not None:
            return dict(self.result.trace.get("trace") or {})
        return self.answer.task.to_dict() if self.answer is not None else {}

    def ledger(self) -> dict[str, float]:
        if not self.req.cascade:
            return self.budget.ledger.summary()
        if self.result is not None:
            return ledger_summary(self.result)
        return {**self.usage.to_dict(), "compute": self.spent}


def view_token(api_key: str, trace_id: str) -> str:
    """The per-trace viewer token: an HMAC of the id under the key (opens that trace only)."""
    return hmac.new(api_key.encode(), trace_id.encode(), hashlib.sha256).hexdigest()[:32]


def _error_response(e: ApiError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status, headers=e.headers)


def create_app(settings: ServeSettings, *, llm: LLM, corpora: Mapping[str, SearchTool],
               strategies: Sequence[str] | None = None,
               clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """The application for ``llm`` over ``corpora`` (name -> search tool; the first is the
    default). ``strategies``: the served strategy names (default: every registered one a
    service can run on this backend, and ``adaptive`` where ``tree`` is one). ``clock``: what the
    per-key windows are measured on (tests pass their own)."""
    if not corpora:
        raise ConfigError("forage serve needs at least one corpus")
    exclude = set(NOT_SERVED)
    if not llm.capabilities.supports_kv_edit:
        exclude.add("thread")  # needs the embedded runtime's KV cache
    served = tuple(strategies) if strategies is not None else served_strategies(exclude)
    store = TraceStore(settings.max_traces)
    limiter = Limiter(settings.max_concurrency, settings.max_queue)
    windows = (None if settings.key_budget is None else
               KeyWindows(settings.key_budget, settings.key_window, clock=clock))
    started = int(time.time())

    app = FastAPI(title="forage", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.limiter = limiter
    app.state.windows = windows

    # -- errors: every refusal is OpenAI's error object --------------------------------------

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, e: ApiError) -> JSONResponse:
        return _error_response(e)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code)
        return _error_response(ApiError(e.status_code, str(e.detail), code=code))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, e: RequestValidationError) -> JSONResponse:
        return _error_response(ApiError(400, f"invalid request: {e.errors()[0].get('msg')}",
                                        code="invalid_value"))

    @app.exception_handler(Exception)
    async def _internal_error(_: Request, e: Exception) -> JSONResponse:
        log.exception("internal error")
        return _error_response(ApiError(500, f"internal error: {type(e).__name__}",
                                        type="server_error", code="internal_error"))

    # -- helpers -------------------------------------------------------------------------------

    def authorize(request: Request, trace_id: str | None = None) -> None:
        key = settings.api_key
        if key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              key.encode()):
            return
        token = request.query_params.get("token")
        if trace_id is not None and token and hmac.compare_digest(
                token.encode(), view_token(key, trace_id).encode()):
            return
        raise ApiError(401, "invalid or missing API key (Authorization: Bearer <key>)",
                       code="invalid_api_key")

    async def read_body(request: Request) -> bytes:
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"the request body has {declared} bytes, more than the "
                           f"server's {limit}", code="request_too_large")
        parts: list[bytes] = []
        size = 0
        async for part in request.stream():
            size += len(part)
            if size > limit:
                raise ApiError(413, f"the request body is larger than the server's {limit} "
                               "bytes", code="request_too_large")
            parts.append(part)
        return b"".join(parts)

    def view_url(trace_id: str) -> str:
        if settings.api_key is None:
            return f"/view/{trace_id}"
        return f"/view/{trace_id}?token={view_token(settings.api_key, trace_id)}"

    def record(r: _Run) -> TraceRecord:
        tree = r.tree()
        tool = corpora[r.req.corpus]
        corpus = getattr(tool, "corpus", None)
        documents: dict[str, dict[str, str]] = {}
        if corpus is not None and tree:
            for doc_id in searched_ids(tree):
                if doc_id in corpus:
                    doc = corpus.get(doc_id)
                    documents[doc_id] = {"title": doc.title, "text": doc.text}
        rec = TraceRecord(
            id=r.trace_id, created=r.created, model=r.req.model,
            strategy=CASCADE if r.req.cascade else r.req.strategy,
            corpus=r.req.corpus, question=r.req.question, answer=r.text, status=r.status,
            budget=r.budget.limit, max_search_calls=0 if r.req.cascade else r.req.max_search_calls,
            knob=r.req.knob, ledger=r.ledger(), trace=tree, documents=documents,
            cascade=cascade_summary(r.result) if r.result is not None else {},
        )
        store.put(rec)
        return rec

    def extension(rec: TraceRecord, r: _Run) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trace_id": rec.id,
            "strategy": rec.strategy,
            "knob": rec.knob,
            "corpus": rec.corpus,
            "status": rec.status,
            "budget": {"limit": rec.budget, "spent": rec.spent,
                       "max_search_calls": rec.max_search_calls or None,
                       "search_calls": int(rec.ledger.get("search_calls", 0))},
            "ledger": rec.ledger,
            "nodes": rec.nodes(),
            "sources": r.sources,
            "view_url": view_url(rec.id),
        }
        if r.req.cascade:
            out["budget"].update(auto=r.req.auto, granted=r.hold.units)
            out.update(rec.cascade)
        if windows is not None:
            key = r.hold.key
            out["key_window"] = {"budget": windows.units, "left": windows.left(key),
                                 "resets_in": round(windows.retry_after(), 3)}
        return out

    def key_of(request: Request) -> str:
        return bucket(request.headers.get("authorization", ""))

    def hold_for(request: Request, req: RunRequest) -> Hold:
        """Reserve the run's units in its key's window; 429 (or 400) when they do not fit."""
        if req.auto:
            cap = auto_cap(req.budget)
            if windows is None:
                return unmetered(cap)
            hold = windows.reserve_auto(key_of(request), cap=cap,
                                        reserve_share=settings.key_reserve, min_step=min_budget(),
                                        first_step=first_step())
        else:
            if windows is None:
                return unmetered(req.budget)
            if req.budget > windows.units:
                raise ApiError(400, f"budget {req.budget:g} is more than a key may spend in a "
                               f"window ({windows.units:g} compute units per "
                               f"{windows.seconds:g} s)", param="budget",
                               code="budget_too_large")
            hold = windows.reserve(key_of(request), req.budget)
        if hold is None:
            wait = windows.retry_after()
            left = windows.left(key_of(request))
            asked = "the cheapest step" if req.auto else f"budget {req.budget:g}"
            raise ApiError(429, f"this API key has {left:g} of its {windows.units:g} compute "
                           f"units left in this window, not enough for {asked}; the next "
                           f"window starts in {wait:.0f} s", type="rate_limit_error",
                           code="key_budget_exceeded",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return hold

    def start(req: RunRequest, hold: Hold) -> _Run:
        trace_id = "fg" + secrets.token_hex(16)
        if req.cascade:
            budget = Budget(hold.units)
        else:
            budget = Budget(req.budget, caps=Caps(search_calls=req.max_search_calls))
        return _Run(trace_id, int(time.time()), req, budget, hold)

    async def answer_with_cascade(r: _Run, run_llm: LLM, tool: SearchTool) -> None:
        r.result = await run_cascade(r.req.question, r.hold.units, llm=run_llm, tool=tool,
                                     seed=r.req.seed)

    async def execute(r: _Run, emit: Emit | None) -> _Run:
        """Run the strategy (or the cascade); records the run however it ends. Raises
        ``ApiError`` for a run that could not answer (timeout, backend failure),
        ``CancelledError`` when cancelled."""
        req = r.req
        strategy = None
        if not req.cascade:
            try:
                strategy = build_strategy(req.strategy, req.knob)
            except ConfigError as e:
                raise ApiError(400, str(e), param="knob", code="invalid_value") from None
        tool: SearchTool = corpora[req.corpus]
        run_llm: LLM = llm
        if req.cascade:
            r.meter = Meter()
            emit = r.meter  # the cascade does not stream (``protocol._check_cascade``)
        if emit is not None:
            run_llm = ObservedLLM(llm, emit)
            tool = ObservedSearch(tool, emit)
        try:
            if strategy is None:
                await asyncio.wait_for(answer_with_cascade(r, run_llm, tool),
                                       timeout=settings.request_timeout)
            else:
                r.answer = await asyncio.wait_for(
                    run(strategy, req.question, llm=run_llm, tools={tool.name: tool},
                        budget=r.budget, seed=req.seed),
                    timeout=settings.request_timeout,
                )
            r.status = "exhausted" if r.exhausted else "done"
            return r
        except TimeoutError:
            r.status = "timeout"
            raise ApiError(504, f"the run took longer than {settings.request_timeout:g} s and "
                           "was cancelled", type="timeout_error", code="request_timeout") from None
        except asyncio.CancelledError:
            r.status = "cancelled"
            log.info("%s: cancelled (client gone) after %.1f units", r.trace_id, r.spent)
            raise
        except BackendError as e:
            raise ApiError(502, f"the model backend failed: {e}", type="api_error",
                           code="upstream_error") from None
        except ConfigError as e:
            raise ApiError(400, str(e), code="invalid_value") from None
        finally:
            record(r)

    def finish_reason(r: _Run) -> str:
        return "length" if r.exhausted and not r.text else "stop"

    # -- routes --------------------------------------------------------------------------------

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "running": limiter.admitted}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        authorize(request)
        return {"object": "list", "data": [
            {"id": model_name(s), "object": "model", "created": started, "owned_by": "forage"}
            for s in served]}

    @app.get("/v1/traces")
    async def traces(request: Request, limit: int = 50) -> dict[str, Any]:
        authorize(request)
        return {"object": "list",
                "data": [r.summary() for r in store.recent(max(1, min(limit, 1000)))]}

    @app.get("/v1/traces/{trace_id}")
    async def trace(request: Request, trace_id: str) -> dict[str, Any]:
        authorize(request, trace_id)
        rec = store.get(trace_id)
        if rec is None:
            raise ApiError(404, f"no trace {trace_id!r} (unknown, or dropped as older than the "
                           f"newest {settings.max_traces})", param="id", code="trace_not_found")
        return rec.to_dict()

    @app.get("/view/{trace_id}")
    async def view(request: Request, trace_id: str) -> HTMLResponse:
        authorize(request, trace_id)
        rec = store.get(trace_id)
        if rec is None:
            raise ApiError(404, f"no trace {trace_id!r}", param="id", code="trace_not_found")
        nonce = secrets.token_urlsafe(16)
        csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
               "img-src 'none'; base-uri 'none'; form-action 'none'")
        return HTMLResponse(render_page(rec, nonce=nonce),
                            headers={"Content-Security-Policy": csp})

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        authorize(request)
        body = await read_body(request)
        req = parse_chat_request(parse_json(body), settings, served, tuple(corpora))
        hold = hold_for(request, req)
        try:
            ticket = limiter.admit()
        except ApiError:
            hold.settle(0.0)
            raise
        r = start(req, hold)
        if req.stream:
            return _TicketedStream(stream(request, r, ticket), ticket, r)

        async def queued_then_run() -> _Run:
            async with ticket:
                return await execute(r, None)

        # The client is watched while the request waits for a slot and while it runs.
        task = asyncio.create_task(queued_then_run())
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
                if not task.done() and await request.is_disconnected():
                    task.cancel()
                    log.info("%s: client disconnected; run cancelled", r.trace_id)
                    try:
                        await task
                    except asyncio.CancelledError:
                        pass
                    return Response(status_code=499)
            task.result()
        finally:
            if not task.done():  # the handler itself was cancelled (server shutting down)
                task.cancel()
            ticket.release()
            hold.settle(r.spent)
        rec = store.get(r.trace_id)
        assert rec is not None
        return JSONResponse(
            completion_body(f"chatcmpl-{r.trace_id}", r.created, req.model, r.text,
                            finish_reason(r), r.usage, extension(rec, r)),
            headers={"X-Forage-Trace-Id": r.trace_id},
        )

    async def stream(request: Request, r: _Run, ticket: Ticket) -> AsyncIterator[bytes]:
        task: asyncio.Task[_Run] | None = None
        req = r.req
        try:
            async with ticket:
                cid = f"chatcmpl-{r.trace_id}"
                events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

                def emit(event: dict[str, Any]) -> None:
                    events.put_nowait({**event, "spent": r.budget.spent,
                                       "budget": r.budget.limit})

                yield sse(chunk_body(cid, r.created, req.model,
                                     delta={"role": "assistant", "content": ""},
                                     extension={"event": "start", "trace_id": r.trace_id}))
                task = asyncio.create_task(execute(r, emit))
                while True:
                    getter = asyncio.ensure_future(events.get())
                    await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        yield sse(chunk_body(cid, r.created, req.model,
                                             extension=getter.result()))
                        continue
                    getter.cancel()
                    break
                while not events.empty():
                    yield sse(chunk_body(cid, r.created, req.model, extension=events.get_nowait()))
                r.hold.settle(r.spent)  # the run is over: the final chunk shows the key's window
                try:
                    task.result()
                except ApiError as e:
                    yield sse(e.body())
                    return
                words = r.text.split(" ")
                for i in range(0, len(words), STREAM_PIECE_WORDS):
                    piece = " ".join(words[i:i + STREAM_PIECE_WORDS])
                    yield sse(chunk_body(cid, r.created, req.model,
                                         delta={"content": piece if i == 0 else " " + piece}))
                rec = store.get(r.trace_id)
                assert rec is not None
                yield sse(chunk_body(cid, r.created, req.model, delta={},
                                     finish_reason=finish_reason(r),
                                     extension=extension(rec, r)))
                if req.include_usage:
                    yield sse(chunk_body(cid, r.created, req.model, usage=r.usage))
                yield sse("[DONE]")
        finally:
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
            ticket.release()
            r.hold.settle(r.spent)

    return app
