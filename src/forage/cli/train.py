"""`forage train`: build the training mixture, train a LoRA on the embedded base, export it.

Writes into ``--out``: ``mixture/`` (``examples.jsonl``, ``mixture.json``), ``checkpoint/`` while
training (rerunning the same command resumes from it), ``adapter/`` (peft), ``<name>.gguf`` (the
llama.cpp adapter) and ``manifest.json`` (base file and hash, mixture digest, settings, steps,
final loss, the llama.cpp check). A rich bar shows steps, loss, tokens/s and the time left (a plain line every few steps when
stdout is a file or a pipe).
Only option parsing and the terminal live here; the work is ``forage.train``. The training
dependencies are the ``forage[train]`` extra; without them the command says so in one line.

Not here: what the mixture holds (``forage.train.mixture``), training (``trainer``), the GGUF
adapter (``export``).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from forage.core.errors import ConfigError
from forage.train.formats import FORMATS
from forage.train.mixture import MixtureSettings, build_mixture

console = Console()
PLAIN_EVERY = 5  # steps between progress lines when stdout is not a terminal


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"expected comma-separated integers, not {text!r}") from None


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
    base: Annotated[str, typer.Option(help="Registered embedded base model.")] = "smollm2",
    epochs: Annotated[float, typer.Option(help="Passes over the mixture.")] = 1.0,
    max_steps: Annotated[int | None, typer.Option(help="Stop after this many steps.")] = None,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 8,
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
        eval_dir=str(eval_data), max_shots=max_shots)
    with console.status("building the mixture"):
        mixture = build_mixture(mix_settings)
    mixture.save(out / "mixture")
    counts = mixture.counts()
    console.print(f"mixture: {len(mixture.examples)} examples, digest {mixture.digest[:12]}; "
                  f"formats {counts['format']}; sources {counts['source']}", highlight=False)
    if mixture_only:
        return
    missing = [m for m in ("torch", "transformers", "peft", "gguf")
               if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"training needs {', '.join(missing)}: pip install 'forage[train]'")

    from forage.train.export import check_adapter, manifest, write_adapter, write_manifest
    from forage.train.trainer import TrainSettings, base_path
    from forage.train.trainer import train as run_training

    settings = TrainSettings(seed=seed, base=base, epochs=epochs, max_steps=max_steps,
                             batch_size=batch_size, lr=lr, warmup=warmup, rank=rank, alpha=alpha,
                             max_tokens=max_tokens, checkpoint_every=checkpoint_every)
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

            model, tokenizer, result = run_training(examples, settings, out, on_progress=show)
    else:  # a file or a pipe: a plain line every few steps instead of a bar nobody sees
        started = time.monotonic()

        def line(p) -> None:  # type: ignore[no-untyped-def]
            if p.step % PLAIN_EVERY and p.step != p.total:
                return
            elapsed = time.monotonic() - started
            console.print(f"step {p.step}/{p.total}  loss {p.loss:.3f}  "
                          f"{p.tokens_per_s:.0f} tok/s  {elapsed / 60:.1f} min", highlight=False)

        model, tokenizer, result = run_training(examples, settings, out, on_progress=line)
    if result.resumed_from:
        console.print(f"resumed from step {result.resumed_from}")
    adapter = write_adapter(model, out / f"{name}.gguf")
    base_file = base_path(base)
    outcome = None
    if held_out:
        by_prompt = [e.prompt for e in held_out]
        with console.status(f"checking the adapter in llama.cpp on {len(by_prompt)} prompts"):
            outcome = check_adapter(adapter, base_file, model, tokenizer, by_prompt)
        console.print(f"llama.cpp reproduces torch's greedy output on {outcome.agree}/"
                      f"{outcome.prompts} held-out prompts; the adapter changed "
                      f"{outcome.changed} of them from the base's", highlight=False)
    data = manifest(adapter=adapter, base=base_file, base_name=base,
                    mixture={"digest": mixture.digest, "examples": len(examples),
                             "held_out": len(held_out), **counts,
                             "settings": mix_settings.to_dict(), "guard": mixture.guard_digest},
                    settings=settings.to_dict(), steps=result.steps,
                    final_loss=result.final_loss,
                    check=outcome.to_dict() if outcome else None)
    path = write_manifest(data, out / f"{name}.json")
    console.print(f"wrote {adapter} ({adapter.stat().st_size / 1e6:.1f} MB) and {path}; "
                  f"{result.steps} steps, final loss {result.final_loss:.3f}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("train")(train)
