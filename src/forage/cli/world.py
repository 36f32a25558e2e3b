"""`forage world`: generate a fictional compositional world and write it to a folder.

Writes ``dev.jsonl`` and ``test.jsonl`` (FlashRAG-style questions), ``corpus.jsonl`` (one document
per entity) and ``world.json`` (settings, seed, counts). Only option parsing and file writing live
here; generation is ``forage.data.world`` and the file contents ``forage.data.world.export``.
Invalid options raise ``ConfigError``, which ``forage.cli.app`` prints as one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from forage.core.errors import ConfigError
from forage.data.world import WorldSettings, generate_world, parse_hops, parse_types
from forage.data.world.export import write_world

console = Console()


def world(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files into.")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed and settings, same bytes.")] = 0,
    entities: Annotated[int, typer.Option(help="Number of entities (one document each).")] = 400,
    hops: Annotated[str, typer.Option(help="Bridge chain length: 3 or a range like 1-8.")] = "1-4",
    types: Annotated[
        str, typer.Option(help="Comma-separated: bridge, comparison, intersection.")
    ] = "bridge,comparison,intersection",
    questions: Annotated[int, typer.Option(help="Questions over both splits.")] = 200,
    distractors: Annotated[int, typer.Option(help="Distractor documents per question.")] = 8,
    confusability: Annotated[
        float, typer.Option(help="0-1: how often names imitate others and docs mention them.")
    ] = 0.3,
    paraphrase: Annotated[
        float, typer.Option(help="0-1: how often text leaves the canonical phrasing and order.")
    ] = 0.5,
    dev_fraction: Annotated[float, typer.Option(help="Share of questions in dev.jsonl.")] = 0.2,
    templates: Annotated[
        str,
        typer.Option(
            help="standard (as training worlds are written) or heldout: an evaluation world whose "
            "question and fact templates and some relations no training world has."
        ),
    ] = "standard",
) -> None:
    """Generate a fictional encyclopedia with multi-hop questions (bridge, comparison,
    intersection), gold answers, decompositions and supporting facts."""
    settings = WorldSettings(
        seed=seed, entities=entities, hops=parse_hops(hops), types=parse_types(types),
        questions=questions, distractors=distractors, confusability=confusability,
        paraphrase=paraphrase, dev_fraction=dev_fraction, templates=templates,
    )  # fmt: skip
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder")
    generated = generate_world(settings)
    write_world(generated, out)
    counts = {s: len(generated.split(s)) for s in ("dev", "test")}
    console.print(
        f"wrote {len(generated.documents)} documents, {counts['dev']} dev and "
        f"{counts['test']} test questions ({settings.templates} templates) to {out}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("world")(world)
