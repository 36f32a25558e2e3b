"""Building an LLM backend from command-line options (the only place that reads API keys)."""

from __future__ import annotations

import typer

from forage.llm.base import LLM
from forage.llm.models import DEFAULT_MODEL

MODEL_HELP = (
    "Embedded model: smollm2, gemma3-270m, or a path to a .gguf file "
    f"(default {DEFAULT_MODEL}). Ignored with --base-url."
)


def model_option() -> str:
    return typer.Option(DEFAULT_MODEL, "--model", "-m", help=MODEL_HELP)


def base_url_option() -> str | None:
    return typer.Option(
        None,
        "--base-url",
        help="An OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama, OpenAI). "
        "The API key is read from FORAGE_API_KEY or OPENAI_API_KEY.",
    )


def api_model_option() -> str:
    return typer.Option("default", "--api-model", help="Model name to send to the server.")


def make_llm(model: str, base_url: str | None, api_model: str, *, n_ctx: int = 4096) -> LLM:
    if base_url:
        from forage.llm.openai_compat import OpenAICompatLLM, api_key_from_env

        key = api_key_from_env("FORAGE_API_KEY") or api_key_from_env("OPENAI_API_KEY")
        return OpenAICompatLLM(base_url, api_model, api_key=key)
    from forage.llm.embedded import EmbeddedLLM

    return EmbeddedLLM(model, n_ctx=n_ctx)
