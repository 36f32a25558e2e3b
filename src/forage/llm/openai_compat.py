"""An ``LLM`` backend for any OpenAI-compatible HTTP server (vLLM, SGLang, Ollama, llama.cpp, ...).

``OpenAICompatLLM`` sends chat requests to ``/v1/chat/completions`` and completion requests to
``/v1/completions`` with async ``httpx``. It owns the protocol's plumbing: request mapping, retries
with exponential backoff and jitter on 429, 5xx and connection failures (``Retry-After`` honoured),
timeouts, a concurrency limit, fan-out of ``n > 1`` into separate seeded calls for servers without
native ``n``, usage from the reply (estimated with a tokenizer when the server omits it), and the
mapping of failures onto ``forage.core.errors``.

Failures a user can act on read as one line: a ``base_url`` that is not an http(s) URL is a
``ConfigError`` at construction (before any call); each retry is logged at WARNING (the CLI shows
it); the error raised after the last attempt says how many attempts were made over how long; and no
message ever shows credentials from the URL (``redact_url``).

Capabilities are declared by the caller, never probed. The API key is a constructor argument;
``api_key_from_env`` is the one place that reads the environment, and only the CLI calls it.

Not here: metering and budgets (``forage.llm.metered``), caching (``forage.llm.cache``), prompts,
streaming, tool calls, or starting servers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx

from forage.core.errors import AuthError, BadResponse, ConfigError, ConnectError, ServerError
from forage.llm.base import (
    Capabilities,
    Choice,
    LLMRequest,
    LLMResponse,
    TokenUsage,
    check_supported,
    estimate_tokens,
)

log = logging.getLogger(__name__)

Tokenizer = Callable[[str], int]
Sleep = Callable[[float], Awaitable[None]]

_SNIPPET_CHARS = 200


def api_key_from_env(var: str = "OPENAI_API_KEY") -> str | None:
    """The API key in environment variable ``var``, or None when unset or empty (CLI use only)."""
    value = os.environ.get(var, "").strip()
    return value or None


# -- pure helpers ---------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``url`` fit for a message: user and password replaced by ``***``, query values dropped."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<unparsable URL>"
    if parsed.userinfo:
        parsed = parsed.copy_with(username="***", password=None)
    if parsed.query:
        keys = [k for k, _ in parsed.params.multi_items()]
        parsed = parsed.copy_with(query="&".join(f"{k}=***" for k in keys).encode())
    return str(parsed)


def check_base_url(url: str) -> str:
    """``url`` if it is an ``http://`` or ``https://`` URL with a host, else ``ConfigError``
    (with the URL redacted)."""
    shown = redact_url(url) if "://" in url else url.split("@")[-1]
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ConfigError(f"base URL {shown!r} is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or "://" not in url:
        raise ConfigError(
            f"base URL {shown!r} must start with http:// or https:// "
            "(like http://127.0.0.1:8000/v1)"
        )
    if not parsed.host:
        raise ConfigError(f"base URL {shown!r} has no host")
    return url


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(
    attempt: int, rng: random.Random, *, base: float, cap: float, jitter: float
) -> float:
    """Delay before retry ``attempt`` (0-based): ``min(cap, base * 2**attempt)`` plus up to
    ``jitter`` times that again, drawn from ``rng``."""
    step = min(cap, base * (2.0**attempt))
    return step + rng.uniform(0.0, jitter * step)


def snippet(body: str, limit: int = _SNIPPET_CHARS) -> str:
    """A body as one short line: the JSON error message if there is one, tags stripped, cut."""
    text = body.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err is not None:
            text = err if isinstance(err, str) else json.dumps(err)
    if "<" in text and ">" in text:
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.DOTALL | re.IGNORECASE)
        text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the backend ----------------------------------------------------------------------------------


class OpenAICompatLLM:
    """An OpenAI-compatible server as an ``LLM``.

    ``base_url`` is the server's root, with or without a trailing ``/v1``. ``timeout`` is seconds
    per HTTP attempt; ``max_retries`` counts retries after the first attempt. ``concurrency``
    bounds the HTTP requests in flight from this object (fan-out calls included; backoff sleeps
    hold no slot).
    ``rng`` (or ``seed``) draws the jitter; ``sleep`` waits between retries (a fake in tests);
    ``transport`` replaces httpx's network transport (``httpx.MockTransport`` in tests). A
    ``Retry-After`` longer than ``max_retry_after`` seconds is not waited for: the error is raised
    with its ``retry_after`` field set.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        concurrency: int = 8,
        supports_n: bool = False,
        supports_logprobs: bool = True,
        supports_grammar: bool = False,
        supports_chat: bool = True,
        supports_completion: bool = True,
        context_window: int | None = None,
        tokenizer: Tokenizer | None = None,
        model_id: str | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        jitter: float = 0.25,
        max_retry_after: float = 300.0,
        rng: random.Random | None = None,
        seed: int = 0,
        sleep: Sleep | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if max_retries < 0:
            raise ConfigError(f"retries must be 0 or more, not {max_retries}")
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {concurrency}")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigError(f"timeout must be a positive number of seconds, not {timeout:g}")
        self.base_url = check_base_url(base_url).rstrip("/").removesuffix("/v1")
        self.shown_url = redact_url(self.base_url)  # the only form of the URL that messages show
        self.model = model
        self._model_id = model_id or model
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.jitter = jitter
        self.max_retry_after = max_retry_after
        self._rng = rng if rng is not None else random.Random(seed)
        self._sleep: Sleep = sleep if sleep is not None else asyncio.sleep
        self._tokenizer: Tokenizer = tokenizer if tokenizer is not None else estimate_tokens
        self._transport = transport
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._caps = Capabilities(
            supports_chat=supports_chat,
            supports_completion=supports_completion,
            supports_n=supports_n,
            supports_logprobs=supports_logprobs,
            supports_top_logprobs=supports_logprobs,
            supports_grammar=supports_grammar,
            supports_kv_edit=False,
            context_window=context_window,
            exact_token_count=False,
        )
        # httpx clients and semaphores belong to one event loop; keep one pair per running loop.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None

    # -- the LLM protocol -------------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def count_tokens(self, text: str) -> int:
        return self._tokenizer(text)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        check_supported(self._caps, request)
        t0 = time.perf_counter()
        if request.n == 1 or self._caps.supports_n:
            response = await self._one_call(request)
        else:
            response = await self._fan_out(request)
        return response.model_copy(update={"seconds": time.perf_counter() - t0})

    # -- lifecycle --------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop (others are dropped with their loop)."""
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._loop, self._client, self._slots = None, None, None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _state(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        if self._client is None or self._slots is None or self._loop is not loop:
            self._loop = loop
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self.timeout),
                headers=self._headers,
            )
            self._slots = asyncio.Semaphore(self.concurrency)
        return self._client, self._slots

    # -- calls ------------------------------------------------------------------------------------

    async def _fan_out(self, request: LLMRequest) -> LLMResponse:
        """``n`` separate calls with seeds seed, seed+1, ...; choices in order, usage summed."""
        singles = [
            request.model_copy(
                update={"n": 1, "seed": None if request.seed is None else request.seed + i}
            )
            for i in range(request.n)
        ]
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._one_call(r)) for r in singles]
        except ExceptionGroup as failed:
            # One failed call fails the request (the others are cancelled): raise it as itself.
            raise failed.exceptions[0] from None
        parts = [t.result() for t in tasks]
        usage = TokenUsage(
            prompt_tokens=sum(p.usage.prompt_tokens for p in parts),
            completion_tokens=sum(p.usage.completion_tokens for p in parts),
            cached_prompt_tokens=sum(p.usage.cached_prompt_tokens for p in parts),
            estimated=any(p.usage.estimated for p in parts),
        )
        choices = tuple(c for p in parts for c in p.choices)
        return LLMResponse(choices=choices, usage=usage, model=parts[0].model)

    async def _one_call(self, request: LLMRequest) -> LLMResponse:
        path = "/v1/completions" if request.mode == "completion" else "/v1/chat/completions"
        data = await self._post(path, self._payload(request))
        return self._parse(data, request, self.shown_url + path)

    def _payload(self, request: LLMRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if request.mode == "completion":
            payload["prompt"] = request.prompt
        else:
            assert request.messages is not None
            payload["messages"] = [m.model_dump() for m in request.messages]
        if request.stop:
            payload["stop"] = list(request.stop)
        if request.seed is not None:
            payload["seed"] = request.seed
        if request.n > 1:
            payload["n"] = request.n
        if request.logprobs:
            if request.mode == "chat":
                # top_logprobs=0: the sampled tokens' logprobs only. llama.cpp's server returns no
                # chat logprobs at all without it (measured with llama-cpp-python 0.3.36).
                payload["logprobs"] = True
                payload["top_logprobs"] = request.top_logprobs
            else:
                payload["logprobs"] = max(1, request.top_logprobs)
        if request.grammar is not None:
            payload["grammar"] = request.grammar
        return payload

    async def _post(self, path: str, payload: dict[str, Any]) -> Any:
        """POST with retries; returns the decoded JSON body or raises the last error."""
        client, slots = self._state()
        url = self.base_url + path
        attempt = 0
        t0 = time.monotonic()
        while True:
            try:
                async with slots:
                    return await self._post_once(client, url, path, payload)
            except ServerError as e:
                last = not e.is_retryable() or attempt >= self.max_retries
                if not last and e.retry_after is not None and e.retry_after > self.max_retry_after:
                    last = True
                if last:
                    if attempt == 0:
                        raise
                    raise _with_attempts(e, attempt + 1, time.monotonic() - t0) from e
                if e.retry_after is not None:
                    delay = e.retry_after
                else:
                    delay = backoff_delay(
                        attempt, self._rng, base=self.backoff_base, cap=self.backoff_max,
                        jitter=self.jitter,
                    )
                log.warning(
                    "%s (attempt %d of %d); retrying in %.1fs",
                    e, attempt + 1, self.max_retries + 1, delay,
                )
                await self._sleep(delay)
                attempt += 1

    async def _post_once(
        self, client: httpx.AsyncClient, real_url: str, path: str, payload: dict[str, Any]
    ) -> Any:
        url = self.shown_url + path  # messages never show credentials
        try:
            reply = await client.post(real_url, json=payload)
        except httpx.TimeoutException as e:
            raise ConnectError(f"no reply from {url} within {self.timeout:g}s") from e
        except httpx.TransportError as e:
            reason = snippet(str(e).replace(real_url, url) or type(e).__name__)
            raise ConnectError(f"cannot reach {url}: {reason}") from e
        status = reply.status_code
        if status in (401, 403):
            raise AuthError(
                f"{url} rejected the API key ({status}): {snippet(reply.text)}", status=status
            )
        if status == 429 or status >= 500:
            raise ServerError(
                f"{url} answered {status}: {snippet(reply.text)}",
                status=status,
                retry_after=parse_retry_after(reply.headers.get("retry-after")),
            )
        if not 200 <= status < 300:
            raise ServerError(f"{url} answered {status}: {snippet(reply.text)}", status=status)
        try:
            return json.loads(reply.content)
        except ValueError as e:
            raise BadResponse(
                f"reply from {url} is not valid JSON (truncated?): {snippet(reply.text)}",
                status=status,
            ) from e

    # -- replies ----------------------------------------------------------------------------------

    def _parse(self, data: Any, request: LLMRequest, url: str) -> LLMResponse:
        def bad(why: str) -> BadResponse:
            return BadResponse(f"reply from {url} {why}: {snippet(json.dumps(data))}", status=200)

        if not isinstance(data, dict):
            raise bad("is not a JSON object")
        raw = data.get("choices")
        if not isinstance(raw, list) or not raw:
            raise bad("has no choices")
        if not all(isinstance(c, dict) for c in raw):
            raise bad("has malformed choices")
        if len(raw) < request.n:
            raise bad(
                f"has {len(raw)} choice(s) for n={request.n} (a server that ignores n needs "
                "supports_n=False)"
            )
        raw = sorted(raw, key=lambda c: c.get("index", 0) if isinstance(c.get("index"), int) else 0)
        choices: list[Choice] = []
        for c in raw:
            if request.mode == "completion":
                text = c.get("text")
            else:
                message = c.get("message")
                text = message.get("content") if isinstance(message, dict) else None
                if isinstance(message, dict) and text is None and "content" in message:
                    text = ""  # a null content is an empty answer, not a malformed reply
            if not isinstance(text, str):
                raise bad("has a choice without text")
            logprobs = tops = None
            if request.logprobs:
                logprobs = _token_logprobs(c.get("logprobs"), request.mode)
                if logprobs is None:
                    raise bad("has no logprobs although they were requested")
            if request.top_logprobs:
                tops = _top_logprobs(c.get("logprobs"), request.mode)
            finish = c.get("finish_reason")
            choices.append(
                Choice(
                    text=text,
                    finish_reason=finish if isinstance(finish, str) else None,
                    token_logprobs=logprobs,
                    top_logprobs=tops,
                )
            )
        model = data.get("model")
        return LLMResponse(
            choices=tuple(choices),
            usage=self._usage(data.get("usage"), request, choices),
            model=model if isinstance(model, str) and model else self.model,
        )

    def _usage(self, raw: Any, request: LLMRequest, choices: list[Choice]) -> TokenUsage:
        """The server's usage; any count it omits is estimated with the tokenizer (and flagged)."""
        raw = raw if isinstance(raw, dict) else {}
        prompt = raw.get("prompt_tokens")
        completion = raw.get("completion_tokens")
        estimated = False
        if not isinstance(prompt, int) or prompt < 0:
            prompt = self._tokenizer(request.text_for_counting())
            estimated = True
        if not isinstance(completion, int) or completion < 0:
            completion = sum(self._tokenizer(c.text) for c in choices)
            estimated = True
        details = raw.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        cached = min(cached, prompt) if isinstance(cached, int) and cached > 0 else 0
        if estimated:
            log.debug("%s: the server reported no usage; estimated %d+%d", self.model, prompt,
                      completion)
        return TokenUsage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_prompt_tokens=cached,
            estimated=estimated,
        )

    def __repr__(self) -> str:
        return f"OpenAICompatLLM({self.shown_url!r}, {self.model!r})"


def _with_attempts(e: ServerError, attempts: int, seconds: float) -> ServerError:
    """The last error of a retried call, its message saying how many attempts over how long."""
    return type(e)(
        f"{e} (gave up after {attempts} attempts over {seconds:.1f}s)",
        status=e.status, retry_after=e.retry_after,
    )  # fmt: skip


def _token_logprobs(raw: Any, mode: str) -> tuple[float, ...] | None:
    """Per-token logprobs: chat ``{"content": [{"logprob": x}, ...]}``, completion
    ``{"token_logprobs": [x, ...]}``. None when absent or malformed."""
    if not isinstance(raw, dict):
        return None
    values: Any
    if mode == "chat":
        items = raw.get("content")
        if not isinstance(items, list):
            return None
        values = [i.get("logprob") if isinstance(i, dict) else None for i in items]
    else:
        values = raw.get("token_logprobs")
        if not isinstance(values, list):
            return None
    if not all(isinstance(v, int | float) or v is None for v in values):
        return None
    return tuple(float(v) for v in values if v is not None)


def _top_logprobs(raw: Any, mode: str) -> tuple[tuple[tuple[str, float], ...], ...] | None:
    """The alternatives at each position: chat ``{"content": [{"top_logprobs": [{"token": t,
    "logprob": x}, ...]}, ...]}``, completion ``{"top_logprobs": [{t: x, ...}, ...]}``; most
    likely first. None when absent or malformed (the caller falls back to the sampled tokens)."""
    if not isinstance(raw, dict):
        return None
    out: list[tuple[tuple[str, float], ...]] = []
    if mode == "chat":
        items = raw.get("content")
        if not isinstance(items, list):
            return None
        for i in items:
            alts = i.get("top_logprobs") if isinstance(i, dict) else None
            if not isinstance(alts, list):
                return None
            pairs = [(a.get("token"), a.get("logprob")) for a in alts if isinstance(a, dict)]
            out.append(tuple(sorted(((str(t), float(x)) for t, x in pairs
                                     if isinstance(t, str) and isinstance(x, int | float)),
                                    key=lambda p: -p[1])))
    else:
        items = raw.get("top_logprobs")
        if not isinstance(items, list):
            return None
        for alts in items:
            if not isinstance(alts, dict):
                return None
            out.append(tuple(sorted(((str(t), float(x)) for t, x in alts.items()
                                     if isinstance(x, int | float)), key=lambda p: -p[1])))
    return tuple(out)


__all__ = [
    "OpenAICompatLLM",
    "api_key_from_env",
    "backoff_delay",
    "check_base_url",
    "parse_retry_after",
    "redact_url",
    "snippet",
]
