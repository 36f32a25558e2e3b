"""`forage train`: builds and saves the mixture, and rejects bad options in one line."""

from __future__ import annotations

import json
from pathlib import Path

from forage.cli.app import main

ROOT = Path(__file__).resolve().parents[2]
TRAIN = Path(__file__).parent / "data"
SMALL = ["--per-format", "3", "--world-seeds", "1001", "--train-data", str(TRAIN),
         "--eval-data", str(ROOT / "data"), "--mixture-only"]


def test_mixture_only_writes_the_examples_and_their_summary(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), *SMALL]) == 0
    summary = json.loads((tmp_path / "mixture" / "mixture.json").read_text())
    lines = (tmp_path / "mixture" / "examples.jsonl").read_text().splitlines()
    assert summary["examples"] == len(lines) > 10
    assert "digest" in capsys.readouterr().out


def test_an_evaluation_world_seed_is_refused_in_one_line(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path), *SMALL, "--world-seeds", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "error:" in err and "reserved for evaluation" in err
    assert "Traceback" not in err and not (tmp_path / "mixture").exists()


def test_a_missing_training_folder_is_one_error_line(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "o"), "--train-data", str(tmp_path / "none"),
                 "--mixture-only"])
    err = capsys.readouterr().err
    assert code == 2 and "is not a folder" in err and "Traceback" not in err
