"""`forage ask`: answer one question over a corpus and show the answer, sources and ledger."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from forage.cli.backends import api_model_option, base_url_option, make_llm, model_option
from forage.core.budget import Budget, Ledger
from forage.core.errors import ConfigError
from forage.search.bm25 import BM25Search
from forage.search.corpus import load_corpus
from forage.runtime.driver import run
from forage.strategies.rag import RAG

console = Console()


def ledger_table(ledger: Ledger) -> Table:
    s = ledger.summary()
    table = Table(title="ledger", show_header=True)
    table.add_column("counter")
    table.add_column("value", justify="right")
    for key in (
        "llm_calls", "prompt_tokens", "cached_prompt_tokens", "completion_tokens",
        "search_calls", "tool_tokens", "llm_seconds", "tool_seconds", "replayed_calls",
        "refused_calls", "compute",
    ):
        v = s[key]
        table.add_row(key, f"{v:.2f}" if isinstance(v, float) else str(v))
    return table


def ask(
    question: str = typer.Argument(..., help="The question."),
    corpus: Path = typer.Option(
        ..., "--corpus", "-c", help="A folder of .txt/.md or a JSONL of {id,title,text}."
    ),
    model: str = model_option(),
    base_url: str | None = base_url_option(),
    api_model: str = api_model_option(),
    k: int = typer.Option(1, "--k", help="Passages the reader sees."),
    budget: float = typer.Option(5000.0, "--budget", help="Compute units for this question."),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print the answer and trace as JSON."),
) -> None:
    """Retrieve with BM25 and answer with the model."""
    if not question.strip():
        raise ConfigError("the question is empty")
    if k < 1:
        raise ConfigError("--k must be at least 1")
    with console.status("loading corpus and model…", spinner="dots"):
        docs = load_corpus(corpus)
        tool = BM25Search(docs)
        llm = make_llm(model, base_url, api_model)
    b = Budget(budget)
    with console.status("searching and reading…", spinner="dots"):
        answer = asyncio.run(run(RAG(k=k), question, llm=llm, tools=tool, budget=b, seed=seed))
    if as_json:
        console.print_json(json.dumps(answer.to_dict()))
        return
    console.print(f"[bold]answer:[/] {answer.text or '(no answer within the budget)'}")
    console.print(f"[bold]sources:[/] {', '.join(answer.sources) or '-'}")
    console.print(ledger_table(b.ledger))


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
