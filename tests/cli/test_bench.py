"""`forage bench` end to end with the embedded SmolLM2, resuming, and its bad-input one-liners."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def forage(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forage.cli.app", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip


def journal_rows(out: Path) -> list[tuple]:
    con = sqlite3.connect(out / "journal.sqlite")
    try:
        return con.execute("SELECT question_id, strategy, budget, created FROM results").fetchall()
    finally:
        con.close()


@pytest.mark.embedded  # the bench subprocess loads SmolLM2
def test_bench_end_to_end_with_smollm2_then_resume_then_refuse(small_world, tmp_path):
    out = tmp_path / "out"
    args = ["bench", "--dataset", str(small_world.path), "--strategies", "rag",
            "--budgets", "1500,300", "--limit", "2", "--model", "smollm2", "--out", str(out)]
    r = forage(*args)
    assert r.returncode == 0, r.stderr
    data = json.loads((out / "results.json").read_text())
    cells = {(c["strategy"], c["budget"]): c for c in data["cells"]}
    assert set(cells) == {("rag", 300.0), ("rag", 1500.0)}
    for (_, budget), c in cells.items():
        assert c["n"] == 2 and c["dataset"] == small_world.path.name
        assert 0 < c["compute_mean"] <= budget
        assert c["search_calls_mean"] == 1.0 and c["prompt_tokens_mean"] > 0
    assert cells[("rag", 300.0)]["knob"] == 1 and cells[("rag", 1500.0)]["knob"] == 2
    eff = data["efficiency"]["datasets"][small_world.path.name]
    assert eff["compute_to_match"] is None and eff["not_applicable"] == "tree was not in the sweep"
    assert data["efficiency"]["metric"] == "em"
    page = (out / "report.html").read_text()
    assert page.count('<details class="question"') == 2
    assert "data:image/png;base64," in page
    assert "results (em with bootstrap 95% CI" in r.stdout and "efficiency" in r.stdout

    # Started again: every cell comes from the journal; nothing is rerun or rewritten.
    before = journal_rows(out)
    r = forage(*args)
    assert r.returncode == 0, r.stderr
    assert "[4/4] 4 cell(s) already in the journal" in r.stdout
    assert journal_rows(out) == before

    # Another configuration in the same folder is refused, in one line.
    r = forage(*[a if a != "1500,300" else "300,3000" for a in args])
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "belongs to a different sweep" in r.stderr and "budgets" in r.stderr


@pytest.mark.parametrize(
    "extra,code,message",
    [
        (["--strategies", "rag,nope"], 2, "unknown strategy 'nope'"),
        (["--budgets", "10,500"], 2, "below the cheapest possible run"),
        (["--budgets", "500,lots"], 2, "'lots' is not a number"),
        (["--split", "train"], 2, "unknown split 'train'"),
        (["--seeds", "0,0"], 2, "seeds repeat: 0"),
        (["--hierarchical", "nope"], 2, "unknown --hierarchical strategy 'nope'"),
        (["--base-url", "http://127.0.0.1:9"], 1, "cannot reach the model server"),
        (["--model", "/tmp/forage-missing.gguf"], 1, "not found"),
        (["--dataset", "/nonexistent/data.jsonl"], 2, "unknown dataset"),
        (["--budgets", "500,inf"], 2, "'inf' is not a finite number"),
        (["--budgets", "nan"], 2, "'nan' is not a finite number"),
        (["--base-url", "localhost:8000"], 2, "must start with http:// or https://"),
        (["--base-url", "ftp://127.0.0.1/v1"], 2, "must start with http:// or https://"),
        (["--base-url", "http://ann:s3cret@127.0.0.1:9/v1"], 1,
         "cannot reach the model server at http://***@127.0.0.1:9/v1"),
        (["--base-url", "http://127.0.0.1:9", "--timeout", "0"], 2, "--timeout must be"),
        (["--strict", "--dataset", "{malformed}"], 1, "qs.jsonl:3:"),
        (["--allocation", "greedy"], 2, "unknown allocation policy 'greedy'"),
        (["--threshold", "0.7"], 2, "settings of --allocation adaptive"),
        (["--allocation", "adaptive"], 2, "unknown rung 'rag'"),
        (["--allocation", "adaptive", "--executor", "ray"], 2, "runs on the local executor"),
        (["--allocation", "oracle"], 2, "leave out --strategies"),
    ],
)
def test_bad_input_is_one_line_before_any_work(small_world, tmp_path, extra, code, message):
    out = tmp_path / "out"
    malformed = tmp_path / "qs.jsonl"
    good = (small_world.path / "test.jsonl").read_text().splitlines()
    malformed.write_text("\n".join([*good[:2], '{"id": "broken"}', *good[2:]]) + "\n")
    extra = [a.replace("{malformed}", str(malformed)) for a in extra]
    args = ["bench", "--strategies", "rag", "--budgets", "500", "--out", str(out), *extra]
    if "--dataset" not in extra:
        args += ["--dataset", str(small_world.path)]
    r = forage(*args, timeout=120)
    assert r.returncode == code, (r.stdout, r.stderr)
    assert message in r.stderr
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert "s3cret" not in r.stderr and "internal error" not in r.stderr
    assert not out.exists()  # nothing started


def test_backend_identity_names_the_served_model_or_the_weights_file(tmp_path):
    from forage.eval.bench import backend_identity
    from forage.llm.testing import FunctionLLM

    llm = FunctionLLM(lambda r: "x", model_id="m1")
    served = backend_identity(llm, "http://127.0.0.1:1/v1", ["m0", "m1"])
    assert (served.kind, served.model, served.weights) == ("openai-compatible", "m1", "served:m1")
    assert backend_identity(llm, "http://h/v1", ["other"]).weights == "served:other"
    weights = tmp_path / "w.gguf"
    weights.write_bytes(b"weights")
    llm.path = weights  # what the embedded backend declares
    embedded = backend_identity(llm, None, [])
    assert embedded.kind == "embedded" and embedded.weights.startswith("sha256:")
    weights.write_bytes(b"other weights")
    assert backend_identity(llm, None, []).weights != embedded.weights


def test_help_lists_every_registered_strategy():
    from forage.runtime import registry

    r = forage("bench", "--help", timeout=120)
    assert r.returncode == 0
    flat = " ".join(r.stdout.replace("│", " ").split())
    for name in registry.available():
        assert name in flat, name


def test_the_oracle_without_a_journal_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    r = forage("bench", "--allocation", "oracle", "--out", str(out), timeout=120)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "computes from a journal" in r.stderr and r.stderr.strip().count("\n") == 0
    assert not out.exists()
