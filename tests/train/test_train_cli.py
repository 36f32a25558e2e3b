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


def test_bad_step_counts_are_refused_before_any_mixture_is_built(tmp_path, capsys):
    for args in (["--max-steps", "0"], ["--max-steps", "-1", "--mixture-only"]):
        out = tmp_path / args[1]
        code = main(["train", "--out", str(out), *SMALL, *args])
        err = capsys.readouterr().err
        assert code == 2 and "max steps" in err and "Traceback" not in err, args
        assert not (out / "mixture").exists()


def test_format_weights_that_are_not_numbers_are_one_error_line(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "o"), *SMALL, "--format-weights", "read=lots"])
    err = capsys.readouterr().err
    assert code == 2 and "weight of read is not a number" in err and "Traceback" not in err
    code = main(["train", "--out", str(tmp_path / "o"), *SMALL, "--format-weights", "readd=2"])
    assert code == 2 and "FORMAT=WEIGHT" in capsys.readouterr().err


def test_a_missing_init_adapter_is_one_error_line(tmp_path, capsys):
    code = main(["train", "--out", str(tmp_path / "o"), *SMALL, "--init", str(tmp_path / "x.json")])
    err = capsys.readouterr().err
    assert code == 2 and "no such adapter" in err and not (tmp_path / "o" / "mixture").exists()


def test_a_finished_run_is_recognised_and_other_settings_are_named(tmp_path, capsys):
    from forage.train.mixture import MixtureSettings
    from forage.train.trainer import TrainSettings

    out = tmp_path / "done"
    out.mkdir()
    args = ["--per-format", "3", "--world-seeds", "1001", "--train-data", str(TRAIN),
            "--eval-data", str(ROOT / "data"), "--max-steps", "5"]
    mix = MixtureSettings(per_format=3, world_seeds=(1001,), train_dir=str(TRAIN),
                          eval_dir=str(ROOT / "data"))
    settings = TrainSettings(max_steps=5)
    (out / "forage-small.json").write_text(json.dumps({
        "training": {**settings.to_dict(), "steps": 5, "final_loss": 1.0},
        "mixture": {"settings": mix.to_dict()}}))
    assert main(["train", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert "already trained" in err and "--force" in err
    assert main(["train", "--out", str(out), *args, "--lr", "0.001"]) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "lr: 0.0002 then, 0.001 now" in err
    assert not (out / "mixture").exists()  # refused before any work


def test_a_training_file_that_is_not_utf8_is_named(tmp_path, capsys):
    bad = tmp_path / "train"
    bad.mkdir()
    (bad / "musique_train_100.json").write_bytes(b'[{"id": "\xff\xfe"}]')
    code = main(["train", "--out", str(tmp_path / "o"), "--per-format", "3", "--world-seeds",
                 "1001", "--train-data", str(bad), "--eval-data", str(ROOT / "data"),
                 "--mixture-only"])
    err = capsys.readouterr().err
    assert code == 1 and "musique_train_100.json" in err and "not UTF-8" in err
    assert "internal error" not in err
