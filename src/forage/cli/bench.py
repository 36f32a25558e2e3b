"""`forage bench`: sweep strategies x budgets x datasets x seeds, journaled, and write the report.

Every input is checked before any work starts (unknown strategy or dataset, a bad budget, an
unreachable model server, a journal from another sweep, an output folder another bench is using),
each failure one line. The sweep itself is ``forage.eval.sweep``; the files ``forage.eval.report``.
``--executor ray`` runs the cells on Ray workers (``forage.eval.ray_executor``); the journal and
the report stay in this process. This module parses options, shows progress (a bar on a terminal; one line per finished cell when
stdout is a file or a pipe, so ``| tee`` and CI logs show the sweep as it goes) and prints the
tables.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import math
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from forage.cli.backends import (
    BackendRecipe,
    api_model_option,
    base_url_option,
    check_server_options,
    make_llm,
    model_dir,
    model_option,
    retries_option,
    timeout_option,
)
from forage.core.errors import ConfigError, ConnectError, SweepFailed
from forage.eval.datasets import SPLITS, open_dataset, parse_hops
from forage.eval.executor import Executor, LocalExecutor
from forage.eval.journal import BackendIdentity, Journal, file_digest
from forage.eval.metrics import CellStats, Efficiency
from forage.llm.base import LLM
from forage.eval.report import AUC_NOTE, ci_text, describe, write_report
from forage.eval.runner import Result
from forage.core.budget_rules import check_budgets
from forage.eval.sweep import Cell, Sweep, SweepRun, check_seeds
from forage.llm.cache import CallCache
from forage.llm.models import resolve_model
from forage.llm.openai_compat import check_base_url, redact_url
from forage.runtime import registry

# Tables are wide: outside a terminal (logs, CI, make demo piped) do not squeeze them into 80.
console = Console(width=None if sys.stdout.isatty() else 150)

DATASET_HELP = (
    "A dataset (repeat for several): a generated world folder (or its test.jsonl/dev.jsonl) -- "
    "exemplars from dev.jsonl, corpus from corpus.jsonl -- or any question file forage reads "
    "(the shared HotpotQA/2Wiki files, any FlashRAG-style JSONL): its first --dev-size questions "
    "are the dev split (exemplars), the rest the test split, and the corpus pools every "
    "question's context paragraphs."
)


def _csv(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError(f"--{what} is empty")
    return items


def _numbers(text: str, what: str, kind: type) -> list:  # type: ignore[type-arg]
    out = []
    for t in _csv(text, what):
        try:
            value = kind(t)
        except ValueError:
            raise ConfigError(f"--{what}: {t!r} is not a number") from None
        if kind is float and not math.isfinite(value):
            raise ConfigError(f"--{what}: {t!r} is not a finite number")
        out.append(value)
    return out


def probe_server(base_url: str, timeout: float = 3.0) -> list[str]:
    """``GET {base_url}/models``: the model ids the server reports (sorted; [] when it does not
    say). ``ConnectError`` (one line) when the server cannot be reached. ``base_url`` must have
    passed ``check_base_url``; messages show it redacted."""
    url = base_url.rstrip("/")
    url = (url if url.endswith("/v1") else url + "/v1") + "/models"
    shown = redact_url(base_url)
    try:
        r = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as e:
        raise ConnectError(f"cannot reach the model server at {shown} ({type(e).__name__} within "
                           f"{timeout:g}s)") from None
    if r.status_code >= 500:
        raise ConnectError(f"the model server at {shown} answered {r.status_code} to GET "
                           f"{redact_url(url)}", status=r.status_code)
    try:
        data = r.json().get("data", [])
        return sorted(str(m["id"]) for m in data if isinstance(m, dict) and "id" in m)
    except (ValueError, AttributeError, TypeError):
        return []


def strategies_help() -> str:
    try:
        names = ", ".join(registry.available())
    except Exception:  # a broken plug-in must not break --help; bench reports it when run
        names = ", ".join(s.name for s in registry.BUILTINS)
    return f"Comma-separated strategies: {names}."


def backend_identity(llm: LLM, base_url: str | None, reported: list[str]) -> BackendIdentity:
    """What the journal records about the backend: for the embedded runtime the sha256 of the
    weights file; for a server the model it reports (the one asked for, if it is listed)."""
    if base_url:
        weights = llm.model_id if llm.model_id in reported else ",".join(reported)
        return BackendIdentity.of(llm, kind="openai-compatible", weights=f"served:{weights}")
    path = getattr(llm, "path", None)  # the embedded backend's weights file
    weights = f"sha256:{file_digest(path)}" if path else ""
    adapter = getattr(llm, "adapter", None)  # and its LoRA adapter, for a trained model
    if adapter:
        weights += f"+lora:{file_digest(adapter)}"
    return BackendIdentity.of(llm, kind="embedded", weights=weights)


def cells_table(cells: list[CellStats], metric: str) -> Table:
    table = Table(title=f"results ({metric} with bootstrap 95% CI; EM/F1 as HotpotQA's)")
    for col in ("dataset", "strategy", "budget", "knob", "n", "EM", "F1", "acc", "95% CI",
                "compute", "prompt tok", "compl tok", "searches", "s/q"):
        table.add_column(col, justify="left" if col in ("dataset", "strategy") else "right")
    for c in cells:
        m = c.counters_mean
        table.add_row(
            c.dataset, c.strategy, f"{c.budget:g}", str(c.knob), str(c.n), f"{c.em:.3f}",
            f"{c.f1:.3f}", f"{c.acc:.3f}", ci_text(getattr(c, f"{metric}_ci"), c.n),
            f"{c.compute_mean:.1f}", f"{m['prompt_tokens']:.0f}", f"{m['completion_tokens']:.1f}",
            f"{m['search_calls']:.2f}", f"{c.seconds_mean:.2f}",
        )  # fmt: skip
    return table


def efficiency_table(eff: Efficiency) -> Table:
    table = Table(title=f"efficiency ({eff.metric}; hierarchical strategy: {eff.hierarchical})")
    table.caption = AUC_NOTE
    for col in ("dataset", "compute-to-match", "95% CI", "gain at equal compute", "AUC"):
        table.add_column(col, justify="left" if col == "dataset" else "right")
    for name, entry in eff.datasets.items():
        t = describe(entry)
        table.add_row(name, t.compute_to_match, t.ci, t.gain, t.auc)
    return table


def bench(
    dataset: Annotated[list[Path], typer.Option("--dataset", "-d", help=DATASET_HELP)],
    strategies: Annotated[str, typer.Option(help=strategies_help())] = "rag",
    budgets: Annotated[str, typer.Option(
        help="Comma-separated compute budgets per question, cheap to expensive. Budget level i is "
             "a hard compute cap AND sets each strategy's knob to its ladder's rung i (the last "
             "rung past the ladder's end); both are recorded in every result.")] = "500,2000,8000",
    seeds: Annotated[str, typer.Option(help="Comma-separated run seeds.")] = "0",
    limit: Annotated[int | None, typer.Option(help="Score at most N questions per dataset.")] = None,
    split: Annotated[str, typer.Option(help="Questions to score: test, dev or all.")] = "test",
    hops: Annotated[str | None, typer.Option(
        help="Keep questions with this many hops (3 or 2-4); questions of unknown hops are kept."
    )] = None,
    dev_size: Annotated[int, typer.Option(
        help="Dev-split size of non-world files (the shared files use 50).")] = 50,
    model: str = model_option(),
    base_url: str | None = base_url_option(),
    api_model: str = api_model_option(),
    timeout: float = timeout_option(),
    retries: int = retries_option(),
    strict: Annotated[bool, typer.Option(
        "--strict", help="Fail on the first malformed dataset record instead of skipping it.")
    ] = False,
    hierarchical: Annotated[str, typer.Option(
        help="The strategy compute-to-match and gain are computed for.")] = "tree",
    metric: Annotated[str, typer.Option(
        help="Score of the curves and efficiency figures: em (HotpotQA exact match, the default), "
             "f1 (HotpotQA token F1) or acc (strict cover match: the gold answer inside a short "
             "prediction that names no other candidate).")] = "em",
    n_ctx: Annotated[int, typer.Option(help="Context window of the embedded model.")] = 4096,
    out: Annotated[Path, typer.Option(
        "--out", help="Folder for journal.sqlite, cache.sqlite, results.json, PNGs, report.html. "
                      "Rerunning with the same folder resumes the sweep.")] = Path("bench-out"),
    executor: Annotated[str, typer.Option(
        help="Where cells run: local (this process, one after another) or ray (Ray workers, each "
             "keeping its own loaded model; results are journaled here).")] = "local",
    address: Annotated[str | None, typer.Option(
        help="With --executor ray: the cluster to join (HOST:PORT of `ray start --head`, or "
             "auto); default: start a Ray instance on this machine for the sweep.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="With --executor ray: worker processes (default: one per --cpus-per-worker CPUs "
             "of the cluster).")] = None,
    cpus_per_worker: Annotated[float, typer.Option(
        help="With --executor ray: CPUs Ray reserves for each worker (an embedded model uses "
             "as many threads).")] = 1.0,
) -> None:
    """Sweep strategies x budgets x datasets x seeds; resumable; writes results and a report."""
    # -- everything checked before any work ---------------------------------------------------
    available = registry.available()
    names = _csv(strategies, "strategies")
    for name in names:
        if name not in available:
            raise ConfigError(f"unknown strategy {name!r}: choose from {', '.join(sorted(available))}")
    budget_list = check_budgets(_numbers(budgets, "budgets", float))
    seed_list = list(check_seeds(_numbers(seeds, "seeds", int)))
    if hierarchical not in available:
        raise ConfigError(f"unknown --hierarchical strategy {hierarchical!r}: choose from "
                          f"{', '.join(sorted(available))}")
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}: choose from {', '.join(SPLITS)}")
    if metric not in ("acc", "em", "f1"):
        raise ConfigError(f"unknown metric {metric!r}: choose from acc, em, f1")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be at least 1, not {limit}")
    if not dataset:
        raise ConfigError("give at least one --dataset")
    if executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {executor!r}: choose from local, ray")
    if executor == "local" and (address is not None or workers is not None
                                or cpus_per_worker != 1.0):
        raise ConfigError("--address, --workers and --cpus-per-worker need --executor ray")
    ray_settings = _ray_settings(address, workers, cpus_per_worker) if executor == "ray" else None
    hop_range = parse_hops(hops)
    reported: list[str] = []
    if base_url:
        check_base_url(base_url)
        check_server_options(timeout, retries)
        reported = probe_server(base_url, timeout=min(timeout, 10.0))
    else:
        resolve_model(model, cache_dir=model_dir())
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    with console.status("loading datasets…", spinner="dots"):
        datasets = [open_dataset(p, split_name=split, limit=limit, hops=hop_range,
                                 dev_size=dev_size, strict=strict) for p in dataset]
    sweep = Sweep(datasets, [available[n] for n in names], tuple(budget_list), tuple(seed_list))
    # The folder's lock, taken before the model loads and held by the open journal until the
    # report is written: a second bench into the same folder is refused before it does anything.
    lock = Journal.lock(out / "journal.sqlite")
    runner: Executor
    cache: CallCache | None = None
    try:
        if ray_settings is not None:
            with console.status("starting the Ray workers (each loads the model)…",
                                spinner="dots"):
                runner = _ray_executor(
                    BackendRecipe.from_options(model, base_url, api_model, n_ctx=n_ctx,
                                               timeout=timeout, retries=retries,
                                               n_threads=max(1, math.ceil(cpus_per_worker))),
                    functools.partial(backend_identity, base_url=base_url, reported=reported),
                    out / "cache.sqlite", ray_settings)
                try:
                    identity = runner.start(sweep)
                except BaseException:
                    runner.close()
                    raise
        else:
            with console.status("loading the model…", spinner="dots"):
                llm = make_llm(model, base_url, api_model, n_ctx=n_ctx, timeout=timeout,
                               retries=retries)
                identity = backend_identity(llm, base_url, reported)
        journal = Journal.open(out / "journal.sqlite", sweep.config(identity), lock=lock)
    except BaseException:
        lock.release()
        raise
    model_id = identity.model
    try:
        try:
            if ray_settings is None:
                cache = CallCache(out / "cache.sqlite", "record")
                runner = LocalExecutor(llm, cache)
            outcome = _run(sweep, runner, journal)
            results = outcome.results
        finally:
            if cache is not None:
                cache.close()
            if ray_settings is not None:
                runner.close()  # type: ignore[attr-defined]
        meta = {
            "date": dt.datetime.now().isoformat(timespec="seconds"), "model": model_id,
            "backend": f"{identity.kind} ({identity.profile} prompts, {identity.weights[:23]})",
            "datasets": ", ".join(f"{d.name} ({d.kind}, {d.split}, {len(d.questions)} q)"
                                  for d in datasets),
            "budgets": ", ".join(f"{b:g}" for b in sweep.budgets),
            "seeds": ", ".join(map(str, seed_list)),
        }  # fmt: skip
        with console.status("writing the report…", spinner="dots"):
            report = write_report(out, results, hierarchical=hierarchical, metric=metric,
                                  meta=meta)
    finally:
        journal.close()
    console.print(cells_table(report.cells, metric))
    console.print(efficiency_table(report.efficiency))
    console.print(f"wrote {report.results_json}, {report.html} and {len(report.plots)} plot(s)",
                  highlight=False)
    for name, why in report.plot_errors.items():
        console.print(f"warning: the plot of {name} could not be drawn ({why}); the report has "
                      "everything else", highlight=False, markup=False)
    if outcome.failures:
        first = outcome.failures[0]
        raise SweepFailed(
            f"{len(outcome.failures)} cell(s) failed and were not journaled (rerun to retry them); "
            f"first: {first.cell.spec.name}@{first.cell.budget:g} on {first.cell.dataset}/"
            f"{first.cell.question.id}: {first.error}"
        )


def _ray_settings(address: str | None, workers: int | None, cpus_per_worker: float):  # type: ignore[no-untyped-def]
    try:
        from forage.eval.ray_executor import RaySettings
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'forage[ray]'") from None
    return RaySettings(address=address, workers=workers, cpus_per_worker=cpus_per_worker)


def _ray_executor(recipe, identify, cache_path: Path, settings):  # type: ignore[no-untyped-def]
    from forage.eval.ray_executor import RayExecutor

    return RayExecutor(recipe, identify=identify, cache_path=cache_path, settings=settings)


def _run(sweep: Sweep, runner: Executor, journal: Journal) -> SweepRun:
    if not console.is_terminal:
        return _run_logged(sweep, runner, journal)
    cells = sweep.cells()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[last]}"))
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("sweep", total=len(cells), last="")
        skipped = 0

        def on_cell(cell: Cell, result: Result, was_done: bool) -> None:
            nonlocal skipped
            skipped += was_done
            progress.update(
                task, advance=1,
                description=f"{cell.dataset} {cell.spec.name}@{cell.budget:g}",
                last=f"{'journaled' if was_done else 'ran'}: "
                     f"{'✓' if result.em else '✗'} {result.compute:.0f}u"
                     + (f" ({skipped} from journal)" if skipped else ""),
            )  # fmt: skip

        def on_failure(cell: Cell, why: str) -> None:
            progress.update(task, advance=1, last=f"FAILED {cell.spec.name}: {why[:60]}")

        return asyncio.run(sweep.run(executor=runner, journal=journal, on_cell=on_cell,
                                     on_failure=on_failure))


def _run_logged(sweep: Sweep, runner: Executor, journal: Journal) -> SweepRun:
    """The sweep with one plain line per finished cell (stdout is a file or a pipe)."""
    total = len(sweep.cells())
    count, skipped = 0, 0

    def line(text: str) -> None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)

    def flush_skipped() -> None:
        nonlocal skipped
        if skipped:
            line(f"[{count}/{total}] {skipped} cell(s) already in the journal")
            skipped = 0

    def on_cell(cell: Cell, result: Result, was_done: bool) -> None:
        nonlocal count, skipped
        count += 1
        if was_done:
            skipped += 1
            if count == total:
                flush_skipped()
            return
        flush_skipped()
        line(f"[{count}/{total}] {cell.dataset} {cell.question.id} {cell.spec.name}@{cell.budget:g}"
             f" seed {cell.seed}: em {result.em:.0f} f1 {result.f1:.2f}, {result.compute:.0f} "
             f"units, {result.seconds:.1f}s")

    def on_failure(cell: Cell, why: str) -> None:
        nonlocal count
        count += 1
        flush_skipped()
        line(f"[{count}/{total}] {cell.dataset} {cell.question.id} {cell.spec.name}@{cell.budget:g}"
             f" seed {cell.seed}: FAILED {why[:120]}")

    line(f"sweep: {total} cell(s)")
    return asyncio.run(sweep.run(executor=runner, journal=journal, on_cell=on_cell,
                                 on_failure=on_failure))


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
