"""Building an LLM backend from command-line options (the only place that reads API keys and the
model cache folder from the environment). ``BackendRecipe`` captures them so that a Ray worker
builds the same backend in its own process."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import typer

from forage.core.errors import ConfigError
from forage.llm.base import LLM
from forage.llm.models import DEFAULT_MODEL

MODEL_HELP = (
    "Embedded model: forage-small, smollm2, gemma3-270m, a path to a .gguf file, or the "
    "manifest (.json) a `forage train` run wrote: its base model with its adapter "
    f"(default {DEFAULT_MODEL}). Ignored with --base-url. Assembled models are kept in "
    "$FORAGE_MODEL_DIR (default ~/.cache/forage/models)."
)
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 4


def model_option() -> str:
    return typer.Option(DEFAULT_MODEL, "--model", "-m", help=MODEL_HELP)


def base_url_option() -> str | None:
    return typer.Option(
        None,
        "--base-url",
        help="An OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, OpenAI), like "
        "http://127.0.0.1:8000/v1. The API key is read from FORAGE_API_KEY or OPENAI_API_KEY.",
    )


def api_model_option() -> str:
    return typer.Option("default", "--api-model", help="Model name to send to the server.")


def timeout_option() -> float:
    return typer.Option(DEFAULT_TIMEOUT, "--timeout",
                        help="Seconds to wait for each reply of the --base-url server.")


def retries_option() -> int:
    return typer.Option(DEFAULT_RETRIES, "--retries",
                        help="Retries of a failed --base-url call (timeouts, 5xx, 429), with "
                             "backoff; each retry is shown.")


def check_server_options(timeout: float, retries: int) -> None:
    if not (math.isfinite(timeout) and timeout > 0):
        raise ConfigError(f"--timeout must be a positive number of seconds, not {timeout:g}")
    if retries < 0:
        raise ConfigError(f"--retries must be 0 or more, not {retries}")


def model_dir() -> Path | None:
    """Where assembled model files are kept: ``$FORAGE_MODEL_DIR``, or the library's default."""
    value = os.environ.get("FORAGE_MODEL_DIR", "").strip()
    return Path(value).expanduser() if value else None


@dataclass(frozen=True)
class BackendRecipe:
    """Everything ``make_llm`` needs, read from this process's options and environment (the API
    key, the model folder), so that another process -- a Ray worker on another node -- builds the
    same backend by calling it. The key travels with the recipe (Ray ships it to the workers)."""

    model: str
    base_url: str | None
    api_model: str
    n_ctx: int = 4096
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    n_threads: int | None = None
    cache_dir: Path | None = None
    api_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_options(cls, model: str, base_url: str | None, api_model: str, **kwargs: object
                     ) -> BackendRecipe:
        key = None
        if base_url:
            from forage.llm.openai_compat import api_key_from_env

            key = api_key_from_env("FORAGE_API_KEY") or api_key_from_env("OPENAI_API_KEY")
        return cls(model, base_url, api_model, cache_dir=model_dir(), api_key=key,
                   **kwargs)  # type: ignore[arg-type]

    def __call__(self) -> LLM:
        if self.base_url:
            from forage.llm.openai_compat import OpenAICompatLLM

            check_server_options(self.timeout, self.retries)
            return OpenAICompatLLM(self.base_url, self.api_model, api_key=self.api_key,
                                   timeout=self.timeout, max_retries=self.retries)
        from forage.llm.embedded import EmbeddedLLM

        return EmbeddedLLM(self.model, n_ctx=self.n_ctx, n_threads=self.n_threads,
                           cache_dir=self.cache_dir)


def make_llm(model: str, base_url: str | None, api_model: str, *, n_ctx: int = 4096,
             timeout: float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES) -> LLM:
    return BackendRecipe.from_options(model, base_url, api_model, n_ctx=n_ctx, timeout=timeout,
                                      retries=retries)()
