"""`forage serve`: forage behind an OpenAI-compatible HTTP API (FastAPI + uvicorn).

Only option parsing, the environment (``FORAGE_SERVE_API_KEY``) and start-up live here; the
application is ``forage.serve.app``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer
from rich.console import Console

from forage.cli.backends import (
    api_model_option,
    base_url_option,
    make_llm,
    model_option,
    retries_option,
    timeout_option,
)
from forage.core.errors import ConfigError
from forage.runtime.ask import bm25_over
from forage.serve.settings import EFFORT_PRESETS, ServeSettings, check_bind

console = Console(stderr=True)
log = logging.getLogger(__name__)

KEY_ENV = "FORAGE_SERVE_API_KEY"


def corpus_specs(values: list[str]) -> dict[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named after the file or folder) -> name: path, in order."""
    out: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep:
            name, path = Path(value).stem or "corpus", value
        name = name.strip()
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"--corpus {value!r}: a corpus name is letters, digits, - and _")
        if name in out:
            raise ConfigError(f"--corpus: the name {name!r} is given twice (use NAME=PATH)")
        out[name] = Path(path)
    if not out:
        raise ConfigError("give at least one --corpus")
    return out


def serve(
    corpus: list[str] = typer.Option(
        ..., "--corpus", "-c",
        help="A corpus the executors search: a folder of .txt/.md or a JSONL of {id,title,text} "
             "(as for `forage ask`), optionally NAME=PATH. Repeat for several; the first is the "
             "default, a request picks another with the body field `corpus`."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    api_key: str | None = typer.Option(
        None, "--api-key", help=f"The key clients must send (Bearer); default ${KEY_ENV}."),
    no_auth: bool = typer.Option(False, "--no-auth",
                                 help="No API key (allowed only on a loopback --host)."),
    model: str = model_option(),
    base_url: str | None = base_url_option(),
    api_model: str = api_model_option(),
    timeout: float = timeout_option(),
    retries: int = retries_option(),
    n_ctx: int = typer.Option(4096, "--n-ctx", help="Context window of the embedded model."),
    effort: str = typer.Option(
        "medium", "--default-effort",
        help="Preset for requests without budget or reasoning_effort: "
             + ", ".join(f"{k} = {p.budget:g} units" for k, p in EFFORT_PRESETS.items()) + "."),
    max_budget: float = typer.Option(20000.0, "--max-budget",
                                     help="Largest budget (compute units) a request may ask for."),
    max_concurrency: int = typer.Option(2, "--max-concurrency", help="Runs at once."),
    max_queue: int = typer.Option(16, "--max-queue",
                                  help="Runs waiting for a slot; more get 429."),
    request_timeout: float = typer.Option(300.0, "--request-timeout",
                                          help="Seconds a run may take before it is cancelled."),
    max_body: int = typer.Option(256 * 1024, "--max-body-bytes", help="Largest request body."),
    max_traces: int = typer.Option(500, "--max-traces",
                                   help="Runs kept for /v1/traces and /view (newest)."),
    key_budget: float | None = typer.Option(
        None, "--key-budget",
        help="Compute units each API key may spend per --key-window (off by default). The key "
             "is the request's Bearer token; requests without one share one anonymous bucket. "
             "A budget larger than what is left gets 429; budget \"auto\" is granted what is "
             "left minus --key-reserve."),
    key_window: float = typer.Option(3600.0, "--key-window",
                                     help="Seconds per --key-budget window."),
    key_reserve: float = typer.Option(
        0.1, "--key-reserve",
        help="Share of --key-budget that \"auto\" requests leave for first readings late in "
             "the window."),
) -> None:
    """Serve forage's strategies as an OpenAI-compatible API (model = forage-<strategy>), with a
    trace viewer at /view/<trace id>. reasoning_effort or budget "auto" (or model
    forage-adaptive) runs the adaptive cascade under the per-request cap."""
    import uvicorn

    from forage.serve.app import create_app

    key = check_bind(host, api_key or os.environ.get(KEY_ENV, "").strip() or None, no_auth)
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, not {port}")
    settings = ServeSettings(
        api_key=key, default_effort=effort, max_budget=max_budget,
        max_body_bytes=max_body, max_concurrency=max_concurrency, max_queue=max_queue,
        request_timeout=request_timeout, max_traces=max_traces, key_budget=key_budget,
        key_window=key_window, key_reserve=key_reserve,
    )
    paths = corpus_specs(corpus)
    with console.status("loading corpora and model…", spinner="dots"):
        tools = {name: bm25_over(path, name=name) for name, path in paths.items()}
        llm = make_llm(model, base_url, api_model, n_ctx=n_ctx, timeout=timeout, retries=retries)
    app = create_app(settings, llm=llm, corpora=tools)
    console.print(f"forage serve on http://{host}:{port}/v1 ({llm.model_id}; corpora "
                  f"{', '.join(tools)}; {'no auth' if key is None else 'API key required'})",
                  highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
