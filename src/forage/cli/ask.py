"""`forage ask`: answer one question over a corpus and show the answer, sources and ledger.

Any registered strategy can answer (``--strategy``, default ``rag``), so the hierarchy can be tried
on one question. A thin wrapper over ``forage.ask`` (``forage.runtime.ask``): only option parsing,
loading with a spinner and printing live here.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from forage.cli.backends import (
    api_model_option,
    base_url_option,
    make_llm,
    model_option,
    retries_option,
    timeout_option,
)
from forage.core.budget import Budget, Ledger
from forage.core.budget_rules import check_budget
from forage.core.errors import ConfigError
from forage.runtime import registry
from forage.runtime.ask import ask as library_ask
from forage.runtime.ask import bm25_over

console = Console()


def ledger_table(ledger: Ledger) -> Table:
    s = ledger.summary()
    table = Table(title="ledger", show_header=True)
    table.add_column("counter")
    table.add_column("value", justify="right")
    for key in (
        "llm_calls", "prompt_tokens", "cached_prompt_tokens", "completion_tokens",
        "search_calls", "tool_tokens", "llm_seconds", "llm_wait_seconds", "tool_seconds",
        "replayed_calls", "refused_calls", "compute",
    ):
        v = s[key]
        table.add_row(key, f"{v:.2f}" if isinstance(v, float) else str(v))
    return table


def ask(
    question: str = typer.Argument(..., help="The question."),
    corpus: Path = typer.Option(
        ..., "--corpus", "-c", help="A folder of .txt/.md or a JSONL of {id,title,text}."
    ),
    strategy: str = typer.Option(
        "rag", "--strategy", "-s",
        help="A registered strategy (see `forage bench --help` for the list), e.g. tree.",
    ),
    knob: int | None = typer.Option(
        None, "--knob", help="The strategy's budget knob (passages, iterations, samples, ...); "
                             "default: the strategy's own default (for rag: --k).",
    ),
    model: str = model_option(),
    base_url: str | None = base_url_option(),
    api_model: str = api_model_option(),
    timeout: float = timeout_option(),
    retries: int = retries_option(),
    k: int = typer.Option(1, "--k", help="Passages the reader sees (rag)."),
    budget: float = typer.Option(5000.0, "--budget", help="Compute units for this question."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print the answer and trace as JSON."),
) -> None:
    """Retrieve with BM25 and answer with the model (one strategy, one question)."""
    if not question.strip():
        raise ConfigError("the question is empty")
    if k < 1:
        raise ConfigError("--k must be at least 1")
    if knob is not None and knob < 1:
        raise ConfigError("--knob must be at least 1")
    check_budget(budget, option="--budget")
    spec = registry.get(strategy)
    if knob is None and spec.name == "rag":
        knob = k
    with console.status("loading corpus and model…", spinner="dots"):
        tool = bm25_over(corpus)
        llm = make_llm(model, base_url, api_model, timeout=timeout, retries=retries)
    b = Budget(budget)
    with console.status(f"searching and reading ({spec.name})…", spinner="dots"):
        answer = library_ask(question, corpus=tool, strategy=spec.name, budget=b, llm=llm,
                             knob=knob, seed=seed)
    too_long = answer.meta.get("refusal_counter") == "context"
    if as_json:
        console.print_json(json.dumps(answer.to_dict()))
    else:
        none = f"(no answer: {answer.meta['refusal']})" if too_long else "(no answer within the budget)"
        console.print(f"[bold]answer:[/] {answer.text or none}")
        console.print(f"[bold]sources:[/] {', '.join(answer.sources) or '-'}")
        console.print(ledger_table(b.ledger))
    if too_long and not answer.text:
        raise ConfigError(
            f"{answer.meta['refusal']}: shorten the question, lower --k, or use a model with a "
            "longer context"
        )


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
