"""`forage world`: writes the four files, deterministically, and rejects bad options in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from forage.cli import world as world_cli
from forage.cli.app import main
from forage.core.errors import ConfigError

SMALL = ["--seed", "5", "--entities", "150", "--questions", "24", "--hops", "1-3"]


def world_app() -> typer.Typer:
    app = typer.Typer()
    world_cli.register(app)

    @app.callback()
    def _root() -> None:  # keeps "world" a named sub-command, as in the real app
        pass

    return app


def run(args: list[str]) -> Result:
    return CliRunner().invoke(world_app(), ["world", *args])


def test_world_writes_questions_corpus_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "w"
    result = run([*SMALL, "--out", str(out), "--dev-fraction", "0.25"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "corpus.jsonl", "dev.jsonl", "test.jsonl", "world.json"
    ]  # fmt: skip
    dev = (out / "dev.jsonl").read_text().splitlines()
    test = (out / "test.jsonl").read_text().splitlines()
    assert (len(dev), len(test)) == (6, 18)
    assert json.loads(dev[0])["metadata"]["hops"] in (1, 2, 3)
    assert len((out / "corpus.jsonl").read_text().splitlines()) == 150
    summary = json.loads((out / "world.json").read_text())
    assert summary["seed"] == 5 and summary["settings"]["hops"] == [1, 3]


def test_world_is_byte_identical_for_the_same_options(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        seed = ["--seed", "6"] if name == "c" else []
        assert run([*SMALL, *seed, "--out", str(tmp_path / name)]).exit_code == 0
    for file in ("dev.jsonl", "test.jsonl", "corpus.jsonl", "world.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    assert (tmp_path / "a" / "corpus.jsonl").read_bytes() != (
        tmp_path / "c" / "corpus.jsonl"
    ).read_bytes()


def test_templates_heldout_writes_a_heldout_world_and_standard_is_the_default(
    tmp_path: Path,
) -> None:
    for name, extra in (("std", []), ("held", ["--templates", "heldout"]),
                        ("explicit", ["--templates", "standard"])):  # fmt: skip
        assert run([*SMALL, *extra, "--out", str(tmp_path / name)]).exit_code == 0
    held = json.loads((tmp_path / "held" / "world.json").read_text())
    assert held["settings"]["templates"] == "heldout"
    assert "templates" not in json.loads((tmp_path / "std" / "world.json").read_text())["settings"]
    first = json.loads((tmp_path / "held" / "test.jsonl").read_text().splitlines()[0])
    assert first["id"].startswith("w5h_test_")
    for file in ("dev.jsonl", "test.jsonl", "corpus.jsonl", "world.json"):
        assert (tmp_path / "std" / file).read_bytes() == (tmp_path / "explicit" / file).read_bytes()
        assert (tmp_path / "std" / file).read_bytes() != (tmp_path / "held" / file).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--hops", "0-3"], "hops must lie within 1-8"),
        (["--hops", "2-9"], "hops must lie within 1-8"),
        (["--types", "bridge,chain"], "unknown question type 'chain'"),
        (["--entities", "20"], "entities must be at least 60"),
        (["--dev-fraction", "2"], "dev-fraction must lie within 0-1"),
        (["--templates", "novel"], "unknown templates 'novel'"),
    ],
)
def test_bad_options_raise_config_error_and_write_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run([*args, "--out", str(tmp_path / "w")])
    assert isinstance(result.exception, ConfigError)
    assert message in str(result.exception) and "\n" not in str(result.exception)
    assert not (tmp_path / "w").exists()


def test_forage_world_prints_one_error_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["world", "--hops", "3-12", "--out", str(tmp_path / "w")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error:") and "hops" in err and len(err.splitlines()) == 1
    assert main(["world", *SMALL, "--out", str(tmp_path / "ok")]) == 0
    assert (tmp_path / "ok" / "test.jsonl").exists()
