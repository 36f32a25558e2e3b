"""The OpenAI-compatible shapes of ``forage serve``: parsing a chat-completions request into a
``RunRequest``, the errors it answers with, and the response, chunk and SSE encodings.

A request names a strategy with ``model: "forage-<strategy>"``; the question is the text of its
last ``user`` message (earlier messages and ``system`` prompts are not passed to the strategies:
forage answers one question per call). Extra body fields: ``budget`` (compute units),
``max_search_calls``, ``knob`` (the strategy's budget knob), ``corpus`` (a corpus name given at
start-up); ``reasoning_effort`` picks a preset (``forage.serve.settings``). Sampling fields
(``temperature``, ``max_tokens``, ...) are accepted and ignored: the strategy sets its own.

``reasoning_effort: "auto"`` or ``budget: "auto"`` runs the adaptive cascade
(``forage.allocation``) under a grant the server decides (``RunRequest.auto``); it is offered on
``forage-tree`` (the cascade's rungs are the tree's) and ``forage-adaptive``, which always runs the
cascade (``auto`` unless the request gives a number or a preset). The cascade sets its own
depth and searches, so ``knob`` and ``max_search_calls`` are refused with it, as is ``stream``.

Fields are typed strictly, as OpenAI's API types them: a string or a boolean is never read as a
number (``"budget": "500"``, ``"budget": true``) nor a string as a boolean (``"stream": "yes"``).
Errors are ``{"error": {"message", "type", "param", "code"}}`` with a 4xx status, as OpenAI's API
answers them, so the ``openai`` client raises its usual exception classes; ``param`` is written as
OpenAI writes it (``messages[0].content``), and a value of the wrong type has code
``invalid_type``.

Not here: running anything (``forage.serve.app``), the limits' values (``forage.serve.settings``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from forage.core.budget import Usage
from forage.core.budget_rules import check_budget, knob_for
from forage.core.errors import InvalidBudget
from forage.runtime import registry
from forage.serve.settings import EFFORT_PRESETS, ServeSettings

MODEL_PREFIX = "forage-"
AUTO = "auto"
CASCADE = "adaptive"  # the model name (forage-adaptive) that always runs the cascade
CASCADE_ON = frozenset({"tree", CASCADE})  # models that accept auto


class ApiError(Exception):
    """An error answered as OpenAI's API does: a status and ``{"error": {...}}``."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}


class _Open(BaseModel):
    # Strict, as OpenAI's API is: "500" is not a number, true is not 1, "yes" is not true.
    model_config = ConfigDict(extra="allow", strict=True)


class ContentPart(_Open):
    type: str
    text: str | None = None


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(p.text or "" for p in self.content if p.type == "text")


class StreamOptions(_Open):
    include_usage: bool = False


class ChatRequest(_Open):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1
    seed: int | None = None
    reasoning_effort: str | None = None
    budget: float | None = Field(default=None, allow_inf_nan=False)
    max_search_calls: int | None = None
    knob: int | None = None
    corpus: str | None = None


@dataclass(frozen=True)
class RunRequest:
    """What one chat-completions call asks forage to do, checked against the server's limits."""

    model: str
    strategy: str
    question: str
    budget: float
    max_search_calls: int
    knob: int | None
    seed: int
    stream: bool
    include_usage: bool
    corpus: str
    cascade: bool = False  # run the adaptive cascade instead of ``strategy``
    auto: bool = False  # the server decides the grant (at most ``budget``, the per-request cap)


def model_name(strategy: str) -> str:
    return f"{MODEL_PREFIX}{strategy}"


def served_strategies(exclude: Collection[str]) -> tuple[str, ...]:
    """The registered strategies not in ``exclude``, and ``adaptive`` (the cascade) with the tree."""
    names = {n for n in registry.available() if n not in exclude}
    if "tree" in names and CASCADE not in exclude:
        names.add(CASCADE)
    return tuple(sorted(names))


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """The request body as JSON; ``NaN``/``Infinity`` (not JSON) and bad UTF-8 are refused."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise ApiError(400, f"the request body is not valid JSON: {e}",
                       code="invalid_json") from None


def _fields(model: type[BaseModel], seen: set[str] | None = None) -> set[str]:
    """Every field name of ``model`` and of the request models nested in it."""
    names: set[str] = set() if seen is None else seen
    for name, info in model.model_fields.items():
        names.add(name)
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            for inner in (arg, *getattr(arg, "__args__", ())):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    _fields(inner, names)
    return names


_REQUEST_FIELDS = frozenset(_fields(ChatRequest))


def param_path(loc: tuple[str | int, ...]) -> str | None:
    """A pydantic error location as OpenAI writes a ``param``: ``messages[0].content``, without
    the names pydantic gives the members of a union (``messages.0.content.str``)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _REQUEST_FIELDS:
            out += f".{part}" if out else part
    return out or None


_JSON_TYPES = {str: "a string", bool: "a boolean", int: "a number", float: "a number",
               list: "an array", dict: "an object", type(None): "null"}


def _validation_error(e: ValidationError) -> ApiError:
    errors = e.errors()
    # The deepest error: of a union's members, the one that got furthest (a list of parts with a
    # bad part, rather than "not a string").
    first = max(errors, key=lambda err: len(err["loc"]))
    param = param_path(first["loc"])
    # A union's members each report the same place (a content that is neither a string nor a
    # list of parts): one message for them all.
    msgs = list(dict.fromkeys(err["msg"] for err in errors if param_path(err["loc"]) == param))
    what = " or ".join(m[0].lower() + m[1:] for m in msgs)
    if all(err["type"].endswith("_type") for err in errors if param_path(err["loc"]) == param):
        got = _JSON_TYPES.get(type(first["input"]), "another type")
        return ApiError(400, f"invalid type for {param or 'the request'}: {what}, not {got}",
                        param=param, code="invalid_type")
    return ApiError(400, f"invalid request: {param}: {what}" if param else
                    f"invalid request: {what}", param=param, code="invalid_value")


def parse_chat_request(data: Any, settings: ServeSettings, strategies: Collection[str],
                       corpora: Collection[str]) -> RunRequest:
    """Check a decoded request body; ``ApiError`` (400, 404) names the first bad field."""
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object", code="invalid_json")
    auto_budget = False
    if isinstance(data.get("budget"), str):
        if data["budget"] != AUTO:
            raise ApiError(400, f"invalid type for budget: a number of compute units or "
                           f"{AUTO!r}, not the string {data['budget']!r}", param="budget",
                           code="invalid_type")
        auto_budget = True
        data = {k: v for k, v in data.items() if k != "budget"}
    try:
        req = ChatRequest.model_validate(data)
    except ValidationError as e:
        raise _validation_error(e) from None
    strategy = req.model[len(MODEL_PREFIX):] if req.model.startswith(MODEL_PREFIX) else ""
    if strategy not in strategies:
        raise ApiError(404, f"the model {req.model!r} does not exist: choose one of "
                       f"{', '.join(model_name(s) for s in sorted(strategies))}",
                       param="model", code="model_not_found")
    if req.n != 1:
        raise ApiError(400, "n must be 1: forage answers once per request", param="n",
                       code="invalid_value")
    users = [m for m in req.messages if m.role == "user"]
    question = users[-1].text().strip() if users else ""
    if not question:
        raise ApiError(400, "no question: the last user message is empty or missing",
                       param="messages", code="invalid_value")
    if len(question) > settings.max_question_chars:
        raise ApiError(400, f"the question has {len(question)} characters, more than the "
                       f"server's {settings.max_question_chars}", param="messages",
                       code="question_too_long")
    auto = auto_budget or req.reasoning_effort == AUTO
    if auto and req.budget is not None:
        raise ApiError(400, "reasoning_effort 'auto' lets the server choose the budget: give no "
                       "budget with it", param="budget", code="invalid_value")
    cascade = auto or strategy == CASCADE
    if cascade:
        _check_cascade(req, strategy, strategies)
    if strategy == CASCADE and req.budget is None and req.reasoning_effort is None:
        auto = True  # forage-adaptive's default
    effort = settings.default_effort if auto else req.reasoning_effort or settings.default_effort
    if effort not in EFFORT_PRESETS:
        raise ApiError(400, f"reasoning_effort must be one of {', '.join(EFFORT_PRESETS)} or "
                       f"{AUTO}, not {effort!r}", param="reasoning_effort", code="invalid_value")
    preset = EFFORT_PRESETS[effort]
    budget = preset.budget if req.budget is None else req.budget
    if auto:
        budget = settings.max_budget
    try:
        budget = check_budget(budget, cap=settings.max_budget)
    except InvalidBudget as e:
        raise ApiError(400, str(e), param="budget", code="budget_too_large"
                       if e.reason == "above_cap" else "invalid_value") from None
    searches = preset.max_search_calls if req.max_search_calls is None else req.max_search_calls
    if not 1 <= searches <= settings.max_search_calls:
        raise ApiError(400, f"max_search_calls must be between 1 and "
                       f"{settings.max_search_calls}, not {searches}", param="max_search_calls",
                       code="invalid_value")
    knob = None if cascade else (
        req.knob if req.knob is not None else knob_for(registry.get(strategy), preset.rung))
    if knob is not None and not 1 <= knob <= 64:
        raise ApiError(400, f"knob must be between 1 and 64, not {knob}", param="knob",
                       code="invalid_value")
    corpus = req.corpus if req.corpus is not None else next(iter(corpora))
    if corpus not in corpora:
        raise ApiError(400, f"unknown corpus {corpus!r}: this server has "
                       f"{', '.join(corpora)}", param="corpus", code="invalid_value")
    return RunRequest(
        model=req.model, strategy=strategy, question=question, budget=float(budget),
        max_search_calls=searches, knob=knob, seed=req.seed if req.seed is not None else 0,
        stream=req.stream,
        include_usage=bool(req.stream_options and req.stream_options.include_usage),
        corpus=corpus, cascade=cascade, auto=auto,
    )


def _check_cascade(req: ChatRequest, strategy: str, strategies: Collection[str]) -> None:
    """400 for what the cascade cannot honour: another strategy, a knob, a search cap, a stream."""
    if strategy not in CASCADE_ON or strategy not in strategies:
        raise ApiError(400, f"{AUTO!r} runs the adaptive cascade, whose rungs are the tree's: use "
                       f"model {model_name('tree')} or {model_name(CASCADE)}, not {req.model}",
                       param="model", code="invalid_value")
    for name in ("knob", "max_search_calls"):
        if getattr(req, name) is not None:
            raise ApiError(400, f"{name} does not apply to the adaptive cascade (it chooses its "
                           "own rungs): leave it out", param=name, code="invalid_value")
    if req.stream:
        raise ApiError(400, "the adaptive cascade does not stream progress yet: send it with "
                       "stream false", param="stream", code="unsupported_value")


def usage_body(usage: Usage) -> dict[str, Any]:
    """OpenAI's ``usage``: every token of every call the run made (planner, executors, ...)."""
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_prompt_tokens},
    }


def completion_body(id: str, created: int, model: str, text: str, finish_reason: str,
                    usage: Usage, extension: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": finish_reason, "logprobs": None}],
        "usage": usage_body(usage),
        "forage": dict(extension),
    }


def chunk_body(id: str, created: int, model: str, *, delta: Mapping[str, Any] | None = None,
               finish_reason: str | None = None, usage: Usage | None = None,
               extension: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One ``chat.completion.chunk``. Progress events are chunks with no choices and a
    ``forage`` field, which the ``openai`` client passes through like the usage chunk."""
    choices = [] if delta is None else [{"index": 0, "delta": dict(delta),
                                         "finish_reason": finish_reason, "logprobs": None}]
    body: dict[str, Any] = {"id": id, "object": "chat.completion.chunk", "created": created,
                            "model": model, "choices": choices}
    if usage is not None:
        body["usage"] = usage_body(usage)
    if extension is not None:
        body["forage"] = dict(extension)
    return body


def sse(data: Mapping[str, Any] | str) -> bytes:
    """One server-sent event (``data: ...`` and a blank line)."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()
