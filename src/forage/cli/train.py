"""`forage train`: build the training mixture, train a LoRA on the embedded base, export it.

Writes into ``--out``: ``mixture/`` (``examples.jsonl``, ``mixture.json``), ``checkpoint/`` while
training (rerunning the same command resumes from it), ``adapter/`` (peft), ``<name>.gguf`` (the
llama.cpp adapter) and ``manifest.json`` (base file and hash, mixture digest, settings, steps,
final loss, the llama.cpp check). A rich bar shows steps, loss, tokens/s and the time left (a plain
line every few steps when stdout is a file or a pipe). Every setting is checked before the
mixture is built; an ``--out`` that holds a finished run is refused (``--force`` trains again);
Ctrl-C prints the step of the checkpoint and the command that resumes; transformers' and peft's
warnings and progress bars are silenced unless ``--verbose`` or ``--debug``.
Only option parsing and the terminal live here; the work is ``forage.train``. The training
dependencies are the ``forage[train]`` extra; without them the command says so in one line.

Not here: what the mixture holds (``forage.train.mixture``), training (``trainer``), the GGUF
adapter (``export``).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import shlex
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from forage.core.errors import ConfigError, TrainingFailed, TrainingInterrupted
from forage.train.examples import FORMATS
from forage.train.mixture import MixtureSettings, build_mixture

console = Console()
PLAIN_EVERY = 5  # steps between progress lines when stdout is not a terminal


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"expected comma-separated integers, not {text!r}") from None


def _counts(option: str, text: str) -> tuple[tuple[str, int], ...]:
    """``plan=1000,calib=600`` -> (("plan", 1000), ("calib", 600))."""
    out: list[tuple[str, int]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        fmt, sep, value = part.partition("=")
        try:
            out.append((fmt.strip(), int(value)))
        except ValueError:
            raise ConfigError(f"{option}: expected FORMAT=NUMBER, not {part!r}") from None
        if not sep:
            raise ConfigError(f"{option}: expected FORMAT=NUMBER, not {part!r}")
    return tuple(out)


def _weights(text: str, formats: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """``read=2,abstain=1.5`` -> ((format, weight), ...), every format one of ``formats``."""
    out: list[tuple[str, float]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        fmt, sep, value = part.partition("=")
        fmt = fmt.strip()
        if not sep or fmt not in FORMATS:
            raise ConfigError(f"--format-weights: expected FORMAT=WEIGHT with a format of "
                              f"{', '.join(FORMATS)}, not {part!r}")
        try:
            weight = float(value)
        except ValueError:
            raise ConfigError(f"--format-weights: the weight of {fmt} is not a number: "
                              f"{value.strip()!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise ConfigError(f"--format-weights: the weight of {fmt} must be >= 0, not {value}")
        out.append((fmt, weight))
    return tuple(out)


def _finished(manifest_path: Path, settings: dict[str, Any], mixture: dict[str, Any]) -> str:
    """Why ``--out`` may not be trained again: the run it holds is finished, with these settings
    or with others (named)."""
    try:
        done = json.loads(manifest_path.read_text(encoding="utf-8"))
        was = {k: v for k, v in done["training"].items()
               if k not in ("steps", "final_loss", "threads")}
        settings = {k: v for k, v in settings.items() if k != "threads"}
        was_mix = done["mixture"]["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{manifest_path} exists (not a readable manifest); use a new --out or --force"
    diffs = [f"{k}: {was.get(k)!r} then, {settings.get(k)!r} now"
             for k in sorted(set(was) | set(settings)) if was.get(k) != settings.get(k)]
    diffs += [f"{k}: {was_mix.get(k)!r} then, {mixture.get(k)!r} now"
              for k in sorted(set(was_mix) | set(mixture)) if was_mix.get(k) != mixture.get(k)]
    if not diffs:
        return (f"already trained: {manifest_path} ({done['training'].get('steps')} steps); "
                "use a new --out or --force")
    return (f"{manifest_path.parent} holds a finished run with other settings ("
            f"{'; '.join(diffs[:3])}{'; ...' if len(diffs) > 3 else ''}); "
            "use a new --out or --force")


@contextmanager
def _quiet_libraries() -> Iterator[None]:
    """transformers' and peft's progress bars and warnings, silenced unless ``--verbose`` or
    ``--debug`` (they describe the libraries' internals, not the run). Python-level stderr goes
    to /dev/null meanwhile: the GGUF loader draws its own tqdm bar there, which no setting turns
    off once tqdm is imported. forage's own log lines keep their handler's stream, and errors are
    printed after the block."""
    if logging.getLogger().getEffectiveLevel() <= logging.INFO:
        yield
        return
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    with open(os.devnull, "w") as sink, warnings.catch_warnings(), redirect_stderr(sink):
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="peft")
        warnings.filterwarnings("ignore", category=UserWarning, module="transformers")
        yield


def train(
    out: Annotated[Path, typer.Option("--out", help="Folder for the mixture, checkpoints, adapter.")],
    seed: Annotated[int, typer.Option(help="Seed of the mixture and of training.")] = 0,
    per_format: Annotated[int, typer.Option(help="Examples per prompt format.")] = 400,
    formats: Annotated[str, typer.Option(help="Comma-separated formats.")] = ",".join(FORMATS),
    world_seeds: Annotated[str, typer.Option(
        help="Training worlds (seeds >= 1000; evaluation uses smaller ones).")] = "1001,1002,1003",
    train_data: Annotated[Path | None, typer.Option(
        help="Folder of the shared training files (MuSiQue, HotpotQA, Break, StrategyQA "
             "train); omit to train on generated worlds only.")] = None,
    eval_data: Annotated[Path, typer.Option(
        help="Folder of the evaluation files the mixture must not touch.")] = Path("data"),
    max_shots: Annotated[int, typer.Option(help="Few-shot exemplars per prompt, at most.")] = 2,
    format_counts: Annotated[str, typer.Option(
        help="Examples of some formats instead of --per-format, e.g. plan=1000,calib=600.")] = "",
    format_shots: Annotated[str, typer.Option(
        help="Most shots of some formats instead of --max-shots, e.g. plan=0.")] = "",
    world_paraphrase: Annotated[float, typer.Option(
        help="How often training worlds' text leaves the canonical phrasing (0-1).")] = 0.5,
    calls: Annotated[list[Path] | None, typer.Option(
        help="A bench call cache (DIR/cache.sqlite) of runs on training data: its reader calls, "
             "relabelled from gold support, join the mixture (repeatable; cap with "
             "--format-counts calls=N).")] = None,
    base: Annotated[str, typer.Option(help="Registered embedded base model.")] = "smollm2",
    epochs: Annotated[float, typer.Option(help="Passes over the mixture.")] = 1.0,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps.")] = None,
    batch_size: Annotated[int, typer.Option(help="Examples per step, at most.")] = 16,
    batch_tokens: Annotated[int, typer.Option(
        help="Padded tokens per step, at most (0: always --batch-size examples).")] = 2048,
    format_weights: Annotated[str, typer.Option(
        help="Loss weight per format, e.g. read=2,abstain=2 (others 1).")] = "",
    checkpointing: Annotated[bool, typer.Option(
        "--checkpointing", help="Gradient checkpointing: less memory, slower steps.")] = False,
    init: Annotated[str | None, typer.Option(
        help="Continue from an adapter: forage-small, a forage train manifest (.json), a GGUF "
             "adapter or a folder of peft weights.")] = None,
    threads: Annotated[int | None, typer.Option(
        help="Torch threads (default: torch's own choice, one per core).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Train again into an --out that holds a finished run.")] = False,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 2e-4,
    warmup: Annotated[int, typer.Option(help="Steps of linear warm-up.")] = 10,
    rank: Annotated[int, typer.Option(help="LoRA rank.")] = 16,
    alpha: Annotated[float, typer.Option(help="LoRA alpha (scale alpha / rank).")] = 32.0,
    max_tokens: Annotated[int, typer.Option(help="Longer examples are left out.")] = 1024,
    checkpoint_every: Annotated[int, typer.Option(help="Steps between checkpoints.")] = 50,
    check: Annotated[int, typer.Option(
        help="Held-out examples on which llama.cpp must reproduce torch's greedy output.")] = 20,
    name: Annotated[str, typer.Option(help="File name of the adapter (.gguf added).")] = "forage-small",
    mixture_only: Annotated[bool, typer.Option(
        "--mixture-only", help="Build and save the mixture, do not train.")] = False,
) -> None:
    """Train the embedded model for forage's prompt formats (LoRA on the CPU) and export it as a
    llama.cpp adapter with its manifest."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    if train_data is not None and not train_data.is_dir():
        raise ConfigError(f"--train-data {train_data} is not a folder")
    mix_settings = MixtureSettings(
        seed=seed, per_format=per_format, formats=tuple(f.strip() for f in formats.split(",")),
        world_seeds=_ints(world_seeds), train_dir=str(train_data) if train_data else None,
        eval_dir=str(eval_data), max_shots=max_shots,
        format_counts=_counts("--format-counts", format_counts),
        format_shots=_counts("--format-shots", format_shots), world_paraphrase=world_paraphrase,
        calls=tuple(str(c) for c in calls or ()))
    for c in calls or ():
        if not c.is_file():
            raise ConfigError(f"--calls {c}: no such call cache")
    # Every setting is checked before the mixture is built: a bad one costs nothing.
    from forage.train.trainer import TrainSettings

    settings = TrainSettings(seed=seed, base=base, epochs=epochs, max_steps=max_steps,
                             batch_size=batch_size, batch_tokens=batch_tokens, lr=lr,
                             warmup=warmup, rank=rank, alpha=alpha, max_tokens=max_tokens,
                             checkpoint_every=checkpoint_every,
                             format_weights=_weights(format_weights, mix_settings.formats),
                             checkpointing=checkpointing, init=init, threads=threads)
    if init is not None:
        from forage.train.adapter_init import resolve_init

        resolve_init(init, base)
    manifest_path = out / f"{name}.json"
    if not mixture_only and manifest_path.is_file() and not force:
        raise ConfigError(_finished(manifest_path, settings.to_dict(), mix_settings.to_dict()))
    missing = [m for m in ("torch", "transformers", "peft", "gguf")
               if importlib.util.find_spec(m) is None]
    if missing and not mixture_only:
        raise ConfigError(f"training needs {', '.join(missing)}: pip install 'forage[train]'")
    with console.status("building the mixture"):
        mixture = build_mixture(mix_settings)
    mixture.save(out / "mixture")
    counts = mixture.counts()
    console.print(f"mixture: {len(mixture.examples)} examples, digest {mixture.digest[:12]}; "
                  f"formats {counts['format']}; sources {counts['source']}", highlight=False)
    if mixture_only:
        return
    with _quiet_libraries():
        _train(out, name, base, check, settings, mix_settings, mixture, counts)


def _train(out: Path, name: str, base: str, check: int, settings: Any, mix_settings: Any,
           mixture: Any, counts: dict[str, Any]) -> None:
    from forage.train.export import check_adapter, manifest, write_adapter, write_manifest
    from forage.train.trainer import base_path
    from forage.train.trainer import train as run_training

    held = min(check, len(mixture.examples) // 10)
    examples = mixture.examples[: len(mixture.examples) - held]
    held_out = mixture.examples[len(mixture.examples) - held:]
    columns = (TextColumn("step {task.completed}/{task.total}"), BarColumn(),
               TextColumn("loss {task.fields[loss]:.3f}"),
               TextColumn("{task.fields[tps]:.0f} tok/s"), TimeRemainingColumn())
    console.print(f"loading {base} into torch, then training on {len(examples)} examples "
                  f"({held} held out for the llama.cpp check)", highlight=False)
    if console.is_terminal:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("train", total=None, loss=float("nan"), tps=0.0)

            def show(p) -> None:  # type: ignore[no-untyped-def]
                bar.update(task, completed=p.step, total=p.total, loss=p.loss,
                           tps=p.tokens_per_s)

            model, tokenizer, result = _run(run_training, examples, settings, out, show)
    else:  # a file or a pipe: a plain line every few steps instead of a bar nobody sees
        started = time.monotonic()

        def line(p) -> None:  # type: ignore[no-untyped-def]
            if p.step % PLAIN_EVERY and p.step != p.total:
                return
            elapsed = time.monotonic() - started
            console.print(f"step {p.step}/{p.total}  loss {p.loss:.3f}  "
                          f"{p.tokens_per_s:.0f} tok/s  {elapsed / 60:.1f} min", highlight=False)

        model, tokenizer, result = _run(run_training, examples, settings, out, line)
    adapter = write_adapter(model, out / f"{name}.gguf")
    base_file = base_path(base)
    outcome = None
    if held_out:
        by_prompt = [e.prompt for e in held_out]
        with console.status(f"checking the adapter in llama.cpp on {len(by_prompt)} prompts"):
            outcome = check_adapter(adapter, base_file, model, tokenizer, by_prompt)
        console.print(f"llama.cpp reproduces torch's greedy output on {outcome.agree}/"
                      f"{outcome.prompts} held-out prompts; the adapter changed "
                      f"{outcome.changed} of them from the base's; next-token log-probabilities "
                      f"differ by {outcome.logprob_diff:.3f} (median over the prompts; "
                      f"tolerance {outcome.tolerance})", highlight=False)
    data = manifest(adapter=adapter, base=base_file, base_name=base,
                    mixture={"digest": mixture.digest, "examples": len(examples),
                             "held_out": len(held_out), **counts,
                             "settings": mix_settings.to_dict(), "guard": mixture.guard_digest},
                    settings=settings.to_dict(), steps=result.steps,
                    final_loss=result.final_loss,
                    check=outcome.to_dict() if outcome else None)
    path = write_manifest(data, out / f"{name}.json")
    if outcome is not None and not outcome.passed:
        raise TrainingFailed(f"the exported adapter does not reproduce the torch model in "
                             f"llama.cpp (log-probabilities differ by {outcome.logprob_diff:.3f}, "
                             f"median over the prompts; tolerance {outcome.tolerance}); "
                             f"{adapter} and {path} are kept for inspection")
    console.print(f"wrote {adapter} ({adapter.stat().st_size / 1e6:.1f} MB) and {path}; "
                  f"{result.steps} steps, final loss {result.final_loss:.3f}", highlight=False)


def _started(resumed_from: int, total: int) -> None:
    if resumed_from:
        console.print(f"resuming from step {resumed_from} of {total} (the checkpoint in --out)",
                      highlight=False)


def _run(run_training: Any, examples: Any, settings: Any, out: Path, progress: Any) -> Any:
    """``run_training`` with the resume line at its start and one line on Ctrl-C: the step of
    the checkpoint and the command that resumes from it."""
    try:
        return run_training(examples, settings, out, on_progress=progress, on_start=_started)
    except TrainingInterrupted as e:
        again = shlex.join(["forage", *sys.argv[1:]]) if sys.argv[1:] else "the same command"
        kept = (f"checkpoint at step {e.step} saved in {e.checkpoint}" if e.step else
                "no step had finished, nothing to resume")
        console.print(f"interrupted at step {e.step}/{e.total}: {kept}; resume with: {again}",
                      highlight=False, soft_wrap=True)
        raise typer.Exit(130) from None


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("train")(train)
