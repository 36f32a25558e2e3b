"""The one small interface every LLM backend implements, and its typed request and response.

A backend is ``await llm.complete(request) -> LLMResponse`` plus ``count_tokens(text)`` and declared
``capabilities``. Backends do not meter: ``forage.llm.metered`` reserves budget, calls the backend
and commits what it used. Not here: prompts, parsing of model output, retries of a particular
protocol (each backend owns its own).
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, model_validator

from forage.core.errors import ConfigError


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Message(_Frozen):
    role: Literal["system", "user", "assistant"]
    content: str


class LLMRequest(_Frozen):
    """One generation request: a completion ``prompt`` or chat ``messages`` (exactly one)."""

    prompt: str | None = None
    messages: tuple[Message, ...] | None = None
    max_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int = 1
    logprobs: bool = False
    # With ``logprobs``: also the ``top_logprobs`` most likely tokens at each position (OpenAI's
    # field of that name); what a reader's confidence reads P("unknown") from.
    top_logprobs: int = 0
    grammar: str | None = None  # GBNF

    @model_validator(mode="after")
    def _one_mode(self) -> LLMRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of prompt or messages")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        if self.n < 1:
            raise ValueError("n must be >= 1")
        if not 0 <= self.top_logprobs <= 20:
            raise ValueError("top_logprobs must lie within 0-20")
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs")
        return self

    @property
    def mode(self) -> Literal["completion", "chat"]:
        return "completion" if self.prompt is not None else "chat"

    def text_for_counting(self) -> str:
        """The prompt as text, for token counting of chat requests (roles included)."""
        if self.prompt is not None:
            return self.prompt
        assert self.messages is not None
        return "\n".join(f"{m.role}: {m.content}" for m in self.messages)


class Choice(_Frozen):
    text: str
    finish_reason: str | None = None
    token_logprobs: tuple[float, ...] | None = None
    # Per generated token, the request's ``top_logprobs`` most likely (token text, logprob).
    top_logprobs: tuple[tuple[tuple[str, float], ...], ...] | None = None

    @property
    def logprob(self) -> float | None:
        """Sum of the sampled tokens' log-probabilities (sequence log-probability)."""
        return None if self.token_logprobs is None else float(sum(self.token_logprobs))


class TokenUsage(_Frozen):
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int = 0
    estimated: bool = False  # counted by forage because the server did not report usage


class LLMResponse(_Frozen):
    choices: tuple[Choice, ...]
    usage: TokenUsage
    model: str
    # The model's own time for the call, as the backend measured it (the embedded model: while the
    # call held it); 0 when the backend does not say. ``forage.llm.metered`` counts the rest of the
    # call's wall time as waiting for the model.
    seconds: float = 0.0

    @property
    def text(self) -> str:
        return self.choices[0].text


class Capabilities(_Frozen):
    """What a backend can do, declared up front (never probed by trial and error)."""

    supports_chat: bool = True
    supports_completion: bool = True
    supports_n: bool = False
    supports_logprobs: bool = False
    supports_top_logprobs: bool = False  # the most likely alternatives at each position
    supports_grammar: bool = False
    supports_kv_edit: bool = False  # serves ``line_stream()``: one editable KV stream
    # The line stream computes (llama.cpp), so the driver runs it on a worker thread; a test
    # double's scripted stream runs on the caller's thread instead.
    stream_blocks: bool = True
    context_window: int | None = None
    exact_token_count: bool = False
    # How strategies should prompt this model: tiny embedded models only follow few-shot completion
    # prompts; capable chat models want chat prompts with structured output.
    prompt_profile: Literal["completion", "chat"] = "chat"


@runtime_checkable
class LLM(Protocol):
    """An LLM backend."""

    @property
    def model_id(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` (exact when ``capabilities.exact_token_count``, else an estimate)."""
        ...

    async def complete(self, request: LLMRequest) -> LLMResponse: ...


def check_supported(caps: Capabilities, request: LLMRequest) -> None:
    """Raise ``ConfigError`` when a request asks for what the backend declared it lacks."""
    if request.mode == "chat" and not caps.supports_chat:
        raise ConfigError("this backend has no chat mode")
    if request.mode == "completion" and not caps.supports_completion:
        raise ConfigError("this backend has no completion mode")
    if request.logprobs and not caps.supports_logprobs:
        raise ConfigError("this backend does not return logprobs")
    if request.top_logprobs and not caps.supports_top_logprobs:
        raise ConfigError("this backend does not return top logprobs")
    if request.grammar and not caps.supports_grammar:
        raise ConfigError("this backend does not support GBNF grammars")


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate (about 4 characters a token in English), never below 1."""
    return max(1, (len(text) + 3) // 4)
