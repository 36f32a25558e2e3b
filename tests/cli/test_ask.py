"""`forage ask` end to end with the embedded model, and its bad-input behaviour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "corpus"


def forage(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "forage.cli.app", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_ask_answers_with_sources_and_ledger():
    r = forage("ask", "Who designed Skerry Point Lighthouse?", "--corpus", str(CORPUS))
    assert r.returncode == 0, r.stderr
    assert "answer: Odile Maren" in r.stdout
    assert "skerry-point-lighthouse" in r.stdout
    assert "search_calls" in r.stdout and "compute" in r.stdout


def test_ask_json_has_trace_and_ledger():
    import json

    r = forage(
        "ask", "Who founded the Marrow Festival?", "--corpus", str(CORPUS), "--json",
        "--model", "smollm2",
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["meta"]["ledger"]["llm_calls"] == 1
    kinds = [a["kind"] for a in data["trace"]["actions"]]
    assert kinds == ["search", "generate"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--corpus", "/nonexistent/corpus"], "does not exist"),
        (["--corpus", "{empty}"], "no documents"),
        (["--corpus", str(CORPUS), "--model", "/tmp/forage-missing.gguf"], "not found"),
        (["--corpus", str(CORPUS), "--model", "{corrupt}"], "cannot load model"),
        (["--corpus", str(CORPUS), "--base-url", "http://127.0.0.1:9", "--retries", "0"],
         "cannot reach"),
        (["--corpus", "{badjsonl}"], "bad.jsonl:2"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path, args, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + b"\x01" * 100)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "title": "A", "text": "fine"}\n{not json\n')
    args = [
        a.format(empty=empty, corrupt=corrupt, badjsonl=bad) for a in args
    ]
    r = forage("ask", "What?", *args)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error:") and message in lines[0]


def test_debug_shows_the_traceback():
    r = forage("--debug", "ask", "What?", "--corpus", "/nonexistent/corpus")
    assert r.returncode != 0
    assert "Traceback" in r.stderr
