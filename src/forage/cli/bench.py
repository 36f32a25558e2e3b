"""`forage bench`: sweep strategies x budgets x datasets x seeds, journaled, and write the report.

A thin wrapper over the library's ``forage.bench`` (``forage.eval.bench``), which owns the lock,
the journal, the executor, the results and the report. Here: parsing options (each bad one a
single line before any work), reaching the model server, building the backend recipe (the
environment's API key and model folder; ``--executor ray`` hands it to Ray workers,
``forage.eval.ray_executor``), showing progress (a bar on a terminal; one line per finished cell
when stdout is a file or a pipe, so ``| tee`` and CI logs show the sweep as it goes) and printing
the tables.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from forage.cli.backends import (
    BackendRecipe,
    api_model_option,
    base_url_option,
    check_server_options,
    model_dir,
    model_option,
    retries_option,
    timeout_option,
)
from forage.allocation.cascade import BatchStep
from forage.core.budget_rules import check_budgets
from forage.core.errors import ConfigError, ConnectError
from forage.eval.bench import BenchProgress, backend_identity, check_allocation, check_choices
from forage.eval.bench import bench as library_bench
from forage.report.allocation import AllocationSummary
from forage.report.allocation_report import match_text
from forage.report.statistics import CellStats, Efficiency
from forage.report.sweep_report import AUC_NOTE, ci_text, describe
from forage.report.results import Result
from forage.eval.sweep import Cell, Sweep, check_seeds
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


def allocation_tables(summary: AllocationSummary) -> list[Table]:
    """Per dataset and policy: each level against the uniform frontier at its spent compute."""
    tables = []
    for name, entry in summary.datasets.items():
        if entry.oracle is not None and entry.frontier:
            best = max(entry.frontier, key=lambda p: (p.score, -p.compute))
            full = entry.oracle.full
            table = Table(title=f"{name}: the oracle (unattainable: each question's cheapest "
                                f"right configuration) against the best uniform configuration "
                                f"(n = {entry.n_questions})")
            for col in ("", entry.metric, "mean compute"):
                table.add_column(col, justify="right")
            table.add_row(f"best uniform: {best.strategy}@{best.budget:g}", f"{best.score:.3f}",
                          f"{best.compute:.0f}")
            table.add_row("oracle", f"{full.score:.3f}", f"{full.compute:.0f}")
            tables.append(table)
        for pol in entry.policies.values():
            table = Table(title=f"{name}: {pol.policy} against uniform budgets "
                                f"({entry.metric}, n = {entry.n_questions}; paired 95% CIs)")
            table.caption = ("frontier: the uniform configurations' Pareto frontier at the level's "
                             "spent compute (flat past the costliest); oracle: unattainable bound; share: of the oracle's "
                             "gain over the frontier. " + match_text(pol.compute_to_match))
            for col in ("mean budget", "score", "spent", "frontier", "gap [CI]",
                        "gap in questions", "oracle", "share", "rungs"):
                table.add_column(col, justify="right")
            for lv in pol.levels:
                gq = lv.gap_questions_ci
                table.add_row(
                    f"{lv.budget:g}", f"{lv.score:.3f}", f"{lv.compute:.0f}",
                    "n/a" if lv.frontier is None else f"{lv.frontier:.3f}",
                    "n/a" if lv.gap is None else f"{lv.gap:+.3f} {_pair(lv.gap_ci)}",
                    "n/a" if lv.gap_questions is None else
                    f"{lv.gap_questions:+.1f} {_pair(gq, 1)}",
                    f"{lv.oracle:.3f}", "n/a" if lv.share is None else f"{lv.share:.2f}",
                    " ".join(f"{k}:{v}" for k, v in lv.rungs.items()))
            tables.append(table)
    if not summary.datasets:
        tables.append(Table(title="allocation: no dataset had both uniform and adaptive results"))
    return tables


def _pair(ci: tuple[float, float] | None, digits: int = 3) -> str:
    return "" if ci is None else f"[{ci[0]:+.{digits}f}, {ci[1]:+.{digits}f}]"


def bench(
    dataset: Annotated[list[Path] | None, typer.Option("--dataset", "-d", help=DATASET_HELP)
                       ] = None,
    strategies: Annotated[str | None, typer.Option(help=strategies_help())] = None,
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
    connect_timeout: Annotated[float, typer.Option(
        help="With --executor ray and --address: seconds to reach the cluster before giving "
             "up.")] = 30.0,
    allocation: Annotated[str, typer.Option(
        help="How budget is spread over each dataset's questions. uniform: every question gets "
             "each budget. adaptive: each budget is the MEAN per question of one batch budget; "
             "every question is read once, unsettled ones climb a ladder of rungs (--strategies "
             "names them: read, passages, tree, replan; default all four) in order of expected "
             "gain per unit. oracle: runs nothing; reads the uniform results journaled in --out "
             "and reports the cheapest right configuration per question (a bound no policy "
             "reaches) against the uniform frontier.")] = "uniform",
    against: Annotated[list[Path] | None, typer.Option(
        help="A folder of a uniform sweep on the same questions (repeatable): its results join "
             "the allocation section as the frontier adaptive is compared with.")] = None,
    threshold: Annotated[float | None, typer.Option(
        help="With --allocation adaptive: the confidence that settles a question (default "
             "0.5).")] = None,
    reserve: Annotated[float | None, typer.Option(
        help="With --allocation adaptive: the share of the batch budget held back until no "
             "escalation fits outside it (default 0.1).")] = None,
) -> None:
    """Sweep strategies x budgets x datasets x seeds; resumable; writes results and a report."""
    # Options parsed and the backend reachable before any work; the rest is ``forage.bench``.
    given = _csv(strategies, "strategies") if strategies is not None else None
    budget_list = check_budgets(_numbers(budgets, "budgets", float))
    seed_list = list(check_seeds(_numbers(seeds, "seeds", int)))
    if executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {executor!r}: choose from local, ray")
    cascade = check_allocation(allocation, given, threshold, reserve,
                               executor if executor == "ray" else None)
    if allocation != "oracle" and not dataset:
        raise ConfigError("give at least one --dataset")
    names = given if given is not None else ([] if cascade else ["rag"])
    check_choices(names if cascade is None else ["tree"], hierarchical=hierarchical, split=split,
                  metric=metric, limit=limit)
    if executor == "local" and (address is not None or workers is not None
                                or cpus_per_worker != 1.0 or connect_timeout != 30.0):
        raise ConfigError("--address, --workers, --cpus-per-worker and --connect-timeout need "
                          "--executor ray")
    ray_settings = (_ray_settings(address, workers, cpus_per_worker, connect_timeout)
                    if executor == "ray" else None)
    reported: list[str] = []
    if base_url:
        check_base_url(base_url)
        check_server_options(timeout, retries)
        reported = probe_server(base_url, timeout=min(timeout, 10.0))
    else:
        resolve_model(model, cache_dir=model_dir())
    identify = functools.partial(backend_identity, base_url=base_url, reported=reported)
    recipe = BackendRecipe.from_options(
        model, base_url, api_model, n_ctx=n_ctx, timeout=timeout, retries=retries,
        n_threads=max(1, math.ceil(cpus_per_worker)) if ray_settings is not None else None)
    workers_of = (None if ray_settings is None else
                  functools.partial(_ray_executor, recipe, identify, settings=ray_settings))
    run = library_bench(
        dataset or [], strategies=given if allocation == "oracle" else names,
        budgets=budget_list, seeds=seed_list, out=out,
        llm=None if workers_of else recipe, executor=workers_of, identify=identify, limit=limit,
        split=split, hops=hops, dev_size=dev_size, strict=strict, hierarchical=hierarchical,
        metric=metric, progress=_TerminalProgress() if console.is_terminal else _LineProgress(),
        allocation=allocation, threshold=threshold, reserve=reserve, against=against or (),
    )  # fmt: skip
    report = run.report
    console.print(cells_table(report.cells, metric))
    console.print(efficiency_table(report.efficiency))
    if report.allocation is not None:
        for table in allocation_tables(report.allocation):
            console.print(table)
    console.print(f"wrote {report.results_json}, {report.html} and {len(report.plots)} plot(s)",
                  highlight=False)
    for name, why in report.plot_errors.items():
        console.print(f"warning: the plot of {name} could not be drawn ({why}); the report has "
                      "everything else", highlight=False, markup=False)
    run.raise_for_failures()


def _ray_settings(address: str | None, workers: int | None,  # type: ignore[no-untyped-def]
                  cpus_per_worker: float, connect_timeout: float):
    quiet = logging.getLogger().getEffectiveLevel() > logging.INFO  # neither --verbose nor --debug
    try:
        from forage.eval.ray_executor import RaySettings
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'forage[ray]'") from None
    return RaySettings(address=address, workers=workers, cpus_per_worker=cpus_per_worker,
                       connect_timeout=connect_timeout, quiet=quiet)


def _ray_executor(recipe, identify, cache_path: Path, *, settings):  # type: ignore[no-untyped-def]
    from forage.eval.ray_executor import RayExecutor

    return RayExecutor(recipe, identify=identify, cache_path=cache_path, settings=settings)


class _TerminalProgress(BenchProgress):
    """A spinner for each slow stage, a bar for the cells."""

    def __init__(self) -> None:
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.skipped = 0

    def stage(self, what: str) -> AbstractContextManager[object]:
        return console.status(f"{what}…", spinner="dots")

    def start(self, sweep: Sweep) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("{task.fields[last]}"))
        self.bar = Progress(*columns, console=console, transient=False)
        self.bar.start()
        self.task = self.bar.add_task("sweep", total=len(sweep.cells()), last="")

    def cell(self, cell: Cell, result: Result, was_done: bool) -> None:
        assert self.bar is not None and self.task is not None
        self.skipped += was_done
        self.bar.update(
            self.task, advance=1,
            description=f"{cell.dataset} {cell.spec.name}@{cell.budget:g}",
            last=f"{'journaled' if was_done else 'ran'}: "
                 f"{'✓' if result.em else '✗'} {result.compute:.0f}u"
                 + (f" ({self.skipped} from journal)" if self.skipped else ""),
        )  # fmt: skip

    def failure(self, cell: Cell, why: str) -> None:
        assert self.bar is not None and self.task is not None
        self.bar.update(self.task, advance=1, last=f"FAILED {cell.spec.name}: {why[:60]}")

    def step(self, step: BatchStep) -> None:
        assert self.bar is not None and self.task is not None
        self.bar.update(self.task, description=f"{step.dataset} adaptive@{step.mean_budget:g}",
                        last=_step_text(step))

    def end(self) -> None:
        if self.bar is not None:
            self.bar.stop()


class _LineProgress(BenchProgress):
    """One plain line per finished cell (stdout is a file or a pipe)."""

    def __init__(self) -> None:
        self.total = self.count = self.skipped = 0

    def line(self, text: str) -> None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)

    def flush_skipped(self) -> None:
        if self.skipped:
            self.line(f"[{self.count}/{self.total}] {self.skipped} cell(s) already in the journal")
            self.skipped = 0

    def start(self, sweep: Sweep) -> None:
        self.total = len(sweep.cells())
        self.line(f"sweep: {self.total} cell(s)")

    def cell(self, cell: Cell, result: Result, was_done: bool) -> None:
        self.count += 1
        if was_done:
            self.skipped += 1
            if self.count == self.total:
                self.flush_skipped()
            return
        self.flush_skipped()
        self.line(f"[{self.count}/{self.total}] {cell.dataset} {cell.question.id} "
                  f"{cell.spec.name}@{cell.budget:g} seed {cell.seed}: em {result.em:.0f} "
                  f"f1 {result.f1:.2f}, {result.compute:.0f} units, {result.seconds:.1f}s")

    def step(self, step: BatchStep) -> None:
        if not step.replayed:
            self.line(f"{step.dataset} adaptive@{step.mean_budget:g}: {_step_text(step)}")

    def failure(self, cell: Cell, why: str) -> None:
        self.count += 1
        self.flush_skipped()
        self.line(f"[{self.count}/{self.total}] {cell.dataset} {cell.question.id} "
                  f"{cell.spec.name}@{cell.budget:g} seed {cell.seed}: FAILED {why[:120]}")


def _step_text(step: BatchStep) -> str:
    r = step.record
    return (f"question {step.question + 1}/{step.of} {r.rung}: {r.answer or '(no answer)'!r} "
            f"confidence {r.confidence:.2f}, {r.spent:.0f} of {r.grant:.0f} units"
            + (" (journaled)" if step.replayed else ""))


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
