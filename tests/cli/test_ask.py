"""`forage ask` end to end with the embedded model, and its bad-input behaviour.

The model's exact words differ between machines, so the end-to-end tests check what any competent
run shows: an answer drawn from the corpus (or the no-answer line), the retrieved source, a trace
of one search and one reading, and a ledger that adds up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from answer_checks import assert_drawn_from, assert_short_span

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


CORPUS_TEXTS = [p.read_text() for p in CORPUS.iterdir()]


def _line(stdout: str, label: str) -> str:
    (line,) = [ln for ln in stdout.splitlines() if ln.startswith(label)]
    return line[len(label):].strip()


@pytest.mark.embedded
def test_ask_answers_with_sources_and_ledger():
    question = "Who designed Skerry Point Lighthouse?"
    r = forage("ask", question, "--corpus", str(CORPUS))
    assert r.returncode == 0, r.stderr
    answer = _line(r.stdout, "answer:")
    if answer != "(no answer within the budget)":
        assert_short_span(answer, question)
        assert_drawn_from(answer, CORPUS_TEXTS, at_least=0.5)
    # BM25 ranks the lighthouse's own page first whatever the model says.
    assert "skerry-point-lighthouse" in _line(r.stdout, "sources:")
    assert "search_calls" in r.stdout and "compute" in r.stdout


@pytest.mark.embedded
def test_ask_json_has_trace_and_ledger():
    question = "Who founded the Marrow Festival?"
    r = forage("ask", question, "--corpus", str(CORPUS), "--json", "--model", "smollm2")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    ledger = data["meta"]["ledger"]
    assert ledger["llm_calls"] == 1 and ledger["search_calls"] == 1
    actions = data["trace"]["actions"]
    assert [a["kind"] for a in actions] == ["search", "generate"]
    assert sum(a["cost"] for a in actions) == pytest.approx(ledger["compute"])
    assert 0 < ledger["compute"] <= 5000  # the default --budget
    assert data["trace"]["goal"] == question
    if data["exhausted"]:
        assert data["text"] == ""
    else:
        assert_short_span(data["text"], question)
        assert_drawn_from(data["text"], CORPUS_TEXTS, at_least=0.5)


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


@pytest.mark.embedded  # the ask subprocess loads SmolLM2
def test_a_question_too_long_for_the_context_is_an_error_that_says_so():
    words = "tell me about the lighthouse and the festival and the port please "
    question = (words * (100_000 // len(words)))[:100_000] + "?"  # a 100 KB question
    r = forage("ask", question, "--corpus", str(CORPUS), "--model", "smollm2")
    assert r.returncode != 0
    out = " ".join(r.stdout.split())
    assert "answer: (no answer: prompt of" in out and "does not fit the context window" in out
    assert "refused_calls │ 1 │" in out  # the refused step is counted in the ledger
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "context window" in lines[0] and "Traceback" not in r.stderr
