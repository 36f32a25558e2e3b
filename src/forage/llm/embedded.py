"""The embedded backend: llama.cpp in-process through ``llama-cpp-python``.

One ``Llama`` per backend, used by one call at a time (a lock; calls run in a worker thread so the
event loop stays free). A response's ``seconds`` is the time the call held the model, without the
wait for the lock. Completion and chat modes, stop strings, temperature, top-p, seed, GBNF
grammars, per-token logprobs (through ``TokenStream``'s sampling loop, since llama.cpp only keeps
the last logits), and the prefix cache: a prompt that starts like the previous one reuses its KV
cells, and those tokens are reported as ``cached_prompt_tokens``. The report saves wall time and
says what happened; it is not a discount: ``forage.llm.metered`` charges every prompt token in full,
since the previous call may belong to another question, strategy or run.

Not here: metering (``forage.llm.metered``), locating weights (``forage.llm.models``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from forage.core.errors import ConfigError, ContextOverflow, ModelLoadError
from forage.core.files import stderr_to_devnull
from forage.llm.base import (
    Capabilities,
    Choice,
    LLMRequest,
    LLMResponse,
    TokenUsage,
    check_supported,
)
from forage.llm.models import DEFAULT_MODEL, MODELS, resolve_model
from forage.llm.line_stream import KVLineStream
from forage.llm.token_stream import TokenStream

log = logging.getLogger(__name__)


class EmbeddedLLM:
    """A GGUF model run in-process. ``model`` is a registered name, a path to a ``.gguf`` or a
    ``forage train`` manifest (its base with its LoRA adapter; ``forage.llm.models``)."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int = 0,
        cache_dir: Path | None = None,
        verbose: bool = False,
    ) -> None:
        resolved = resolve_model(model, cache_dir=cache_dir)
        self._model_id, self.path, self.adapter = resolved.model_id, resolved.path, resolved.adapter
        spec = MODELS.get(resolved.base or "")
        self.instruct = spec.instruct if spec else True
        try:
            from llama_cpp import Llama, LlamaGrammar
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ModelLoadError(
                "the embedded runtime is not installed: pip install 'forage[embedded]'"
            ) from e
        self._grammar_cls = LlamaGrammar
        try:
            with contextlib.nullcontext() if verbose else stderr_to_devnull():
                self._llama = Llama(
                    model_path=str(self.path),
                    lora_path=str(self.adapter) if self.adapter else None,
                    n_ctx=n_ctx,
                    n_threads=n_threads,
                    seed=seed,
                    verbose=verbose,
                    swa_full=True,  # keep every cell so KV edits work on sliding-window models
                )
        except (ValueError, RuntimeError, OSError) as e:
            raise ModelLoadError(f"cannot load model {self.path}: {e}") from e
        self._lock = threading.Lock()
        self._has_template = bool(self._llama.metadata.get("tokenizer.chat_template"))
        self._caps = Capabilities(
            supports_chat=self._has_template,
            supports_completion=True,
            supports_n=False,
            supports_logprobs=True,
            supports_top_logprobs=True,
            supports_grammar=True,
            supports_kv_edit=True,
            context_window=n_ctx,
            exact_token_count=True,
            prompt_profile="completion",
        )

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def llama(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (for the token-stream runtime)."""
        return self._llama

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=True, special=False))

    def exclusive(self) -> threading.Lock:
        """The model's lock: hold it (``with llm.exclusive():``) while driving a token stream, so
        no concurrent ``complete`` call touches the same KV cache."""
        return self._lock

    def token_stream(self) -> TokenStream:
        """A fresh token stream on this model's context (not safe alongside concurrent calls)."""
        return TokenStream(self._llama)

    @contextlib.contextmanager
    def line_stream(self, *, keep_prefix: bool = False) -> Iterator[KVLineStream]:
        """The model's KV cache as one line stream, the model held (``exclusive``) until the block
        ends. ``keep_prefix``: leave the cells an earlier call left (the stream can keep a prefix
        it recognises, ``LineStream.keep_prefix``); otherwise start empty."""
        with self._lock:
            ts = TokenStream(self._llama, clear=not keep_prefix)
            yield KVLineStream(ts, capacity=self._caps.context_window or self._llama.n_ctx())

    async def complete(self, request: LLMRequest) -> LLMResponse:
        check_supported(self._caps, request)
        return await asyncio.to_thread(self._complete_sync, request)

    # -- the synchronous core ----------------------------------------------------------------------

    def _complete_sync(self, request: LLMRequest) -> LLMResponse:
        with self._lock:
            t0 = time.perf_counter()  # the model's own time starts once this call holds it
            choices: list[Choice] = []
            prompt_tokens = completion_tokens = cached = 0
            for i in range(request.n):
                seed = None if request.seed is None else request.seed + i
                choice, p, c, k = self._one(request, seed)
                choices.append(choice)
                prompt_tokens += p
                completion_tokens += c
                cached += k
            seconds = time.perf_counter() - t0
        return LLMResponse(
            choices=tuple(choices),
            usage=TokenUsage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cached_prompt_tokens=cached,
            ),
            model=self._model_id,
            seconds=seconds,
        )

    def _prompt_tokens(self, request: LLMRequest) -> tuple[list[int], tuple[str, ...]]:
        """The prompt's tokens, and the stop strings its chat template adds (none for completion)."""
        if request.prompt is not None:
            return list(self._llama.tokenize(request.prompt.encode("utf-8"), add_bos=True)), ()
        # Chat: render with the model's own template, then tokenize.
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self._llama.metadata["tokenizer.chat_template"]
        eos = self._llama._model.token_get_text(self._llama.token_eos())
        bos = self._llama._model.token_get_text(self._llama.token_bos())
        formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)
        assert request.messages is not None
        rendered = formatter(messages=[m.model_dump() for m in request.messages])
        text = rendered.prompt
        tokens = list(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))
        stops = [rendered.stop] if isinstance(rendered.stop, str) else list(rendered.stop or [])
        return tokens, tuple(x for x in stops if x)

    def _one(self, request: LLMRequest, seed: int | None) -> tuple[Choice, int, int, int]:
        tokens, template_stops = self._prompt_tokens(request)
        n_ctx = self._llama.n_ctx()
        if len(tokens) >= n_ctx:
            raise ContextOverflow(len(tokens), n_ctx)
        max_tokens = min(request.max_tokens, n_ctx - len(tokens))
        stop = tuple(request.stop) + template_stops
        cached = self._llama.longest_token_prefix(
            self._llama.input_ids[: self._llama.n_tokens].tolist(), tokens
        )
        cached = max(0, min(cached, len(tokens) - 1))  # the last prompt token is always re-run
        if request.logprobs:
            if request.grammar:
                raise ConfigError("logprobs with a grammar is not supported on the embedded backend")
            choice, n_out = self._sample_with_logprobs(tokens, max_tokens, stop, request, seed)
            return choice, len(tokens), n_out, cached
        grammar = self._grammar_cls.from_string(request.grammar, verbose=False) if request.grammar else None
        out = self._llama.create_completion(
            prompt=tokens,
            max_tokens=max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=list(stop),
            seed=seed if seed is not None else 0,
            grammar=grammar,
        )
        ch = out["choices"][0]
        usage = out["usage"]
        return (
            Choice(text=ch["text"], finish_reason=ch.get("finish_reason")),
            usage["prompt_tokens"],
            usage["completion_tokens"],
            cached,
        )

    def _sample_with_logprobs(
        self,
        tokens: list[int],
        max_tokens: int,
        stop: tuple[str, ...],
        request: LLMRequest,
        seed: int | None,
    ) -> tuple[Choice, int]:
        llama = self._llama
        keep = llama.longest_token_prefix(llama.input_ids[: llama.n_tokens].tolist(), tokens)
        keep = min(keep, len(tokens) - 1)
        llama.n_tokens = keep  # reuse the cached prefix; eval drops the cells after it
        stream = TokenStream(llama, clear=False)
        stream.eval(tokens[keep:])
        before = len(stream)
        tops: list[tuple[tuple[str, float], ...]] = []
        text, logprobs, finish = stream.generate(
            max_tokens,
            stop=stop,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=seed if seed is not None else 0,
            top=request.top_logprobs,
            tops=tops,
        )
        return (
            Choice(text=text, finish_reason=finish, token_logprobs=tuple(logprobs),
                   top_logprobs=tuple(tops) if request.top_logprobs else None),
            max(len(logprobs), len(stream) - before),
        )
