"""Test doubles of the ``LLM`` interface, shipped so users can unit-test their own strategies.

``ScriptedLLM`` answers from a queue of replies; ``FunctionLLM`` answers with a function of the
request. Both count tokens as whitespace-separated words and record every request they received.
``StreamLLM`` is a backend that can edit its KV cache, whose one line stream is the one given (a
``ScriptedLineStream``, or a ``KVLineStream`` teacher-forced from a script), for running the
single-stream strategy through the driver. They are for testing logic only, never for measuring
anything.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from forage.core.errors import ConfigError
from forage.llm.base import Capabilities, Choice, LLMRequest, LLMResponse, TokenUsage
from forage.llm.line_stream import LineStream


def _words(text: str) -> int:
    return len(text.split())


class FunctionLLM:
    """An LLM whose reply to a request is ``fn(request)``."""

    def __init__(
        self,
        fn: Callable[[LLMRequest], str],
        *,
        model_id: str = "function",
        capabilities: Capabilities | None = None,
    ) -> None:
        self._fn = fn
        self._model_id = model_id
        self._caps = capabilities or Capabilities(supports_logprobs=True, exact_token_count=True)
        self.requests: list[LLMRequest] = []

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def count_tokens(self, text: str) -> int:
        return _words(text)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        prompt = request.prompt if request.prompt is not None else request.text_for_counting()
        choices = []
        completion = 0
        for _ in range(request.n):
            text = self._fn(request)
            for s in request.stop:
                if s and s in text:
                    text = text[: text.index(s)]
            words = text.split()
            if len(words) > request.max_tokens:
                text = " ".join(words[: request.max_tokens])
                words = words[: request.max_tokens]
            completion += len(words)
            logprobs = tuple(-0.1 for _ in words) if request.logprobs else None
            choices.append(Choice(text=text, finish_reason="stop", token_logprobs=logprobs))
        return LLMResponse(
            choices=tuple(choices),
            usage=TokenUsage(prompt_tokens=_words(prompt) * request.n, completion_tokens=completion),
            model=self._model_id,
        )


class ScriptedLLM(FunctionLLM):
    """An LLM that replies with the next item of a script; running out is an error."""

    def __init__(self, replies: Iterable[str] = (), **kwargs: object) -> None:
        self._queue: deque[str] = deque(replies)
        super().__init__(self._next, model_id=str(kwargs.pop("model_id", "scripted")), **kwargs)  # type: ignore[arg-type]

    def _next(self, request: LLMRequest) -> str:
        if not self._queue:
            raise ConfigError("ScriptedLLM ran out of replies")
        return self._queue.popleft()


class StreamLLM(FunctionLLM):
    """A backend whose KV cache is ``stream``: it declares ``supports_kv_edit`` and hands
    ``stream`` to every ``line_stream`` block (``keep_prefix`` is the stream's own business), on
    the caller's thread (``stream_blocks=False``: a hypothesis policy may draw from it).
    Requests (``complete``) are an error: only the single-stream strategy runs on it."""

    def __init__(self, stream: LineStream, *, model_id: str = "stream") -> None:
        super().__init__(self._refuse, model_id=model_id, capabilities=Capabilities(
            supports_kv_edit=True, stream_blocks=False, exact_token_count=True,
            context_window=stream.capacity))
        self.stream = stream

    @staticmethod
    def _refuse(request: LLMRequest) -> str:
        raise ConfigError("StreamLLM only serves its line stream")

    @contextlib.contextmanager
    def line_stream(self, *, keep_prefix: bool = False) -> Iterator[LineStream]:
        yield self.stream
