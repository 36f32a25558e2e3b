"""The `forage` command as a whole: --version, usage errors in the one-line style, quiet HTTP
libraries under --debug, and `forage ask` options checked before any work (budgets, strategies,
server URLs). Commands run in a subprocess, as a user runs them; a stub OpenAI-compatible server on
127.0.0.1 stands in for a model where one is needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from stub_openai import StubServer  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "corpus"


def forage(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "forage.cli.app", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error:") and "internal error" not in lines[0], r.stderr
    return lines[0]


def test_version_prints_the_package_version():
    from importlib.metadata import version

    r = forage("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"forage {version('forage')}"


@pytest.mark.parametrize("args,needle", [
    (["bench", "--bogus"], "No such option: --bogus"),
    (["ask", "Q", "--corpus", str(CORPUS), "--budget", "lots"], "Invalid value for '--budget'"),
    (["world"], "Missing option '--out'"),
])  # fmt: skip
def test_option_parsing_errors_are_one_error_line_with_exit_2(args, needle):
    r = forage(*args)
    assert r.returncode == 2
    line = one_error_line(r)
    assert needle in line and "--help" in line


def test_debug_shows_forage_logs_but_not_the_http_librarys():
    with StubServer() as stub:
        r = forage("--debug", "ask", "Who?", "--corpus", str(CORPUS), "--base-url", stub.url)
    assert r.returncode == 0, r.stderr
    assert "debug forage." in r.stderr
    for noisy in ("httpx", "httpcore", "urllib3"):
        assert f" {noisy}" not in r.stderr, r.stderr


def test_a_json_error_message_says_at_once(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": "unterminated\n')
    r = forage("ask", "Q", "--corpus", str(bad))
    line = one_error_line(r)
    assert "bad.jsonl:2: invalid JSON (" in line and "at column" in line and "at at" not in line


@pytest.mark.parametrize("budget,needle", [("inf", "not a finite number"),
                                           ("nan", "not a finite number"),
                                           ("0", "below the cheapest possible run"),
                                           ("10", "below the cheapest possible run")])
def test_ask_refuses_a_budget_that_cannot_pay_for_a_run(budget, needle):
    r = forage("ask", "Q", "--corpus", str(CORPUS), "--budget", budget)
    assert r.returncode == 2
    assert needle in one_error_line(r)


@pytest.mark.parametrize("url", ["127.0.0.1:8000/v1", "ftp://user:pw@127.0.0.1/v1"])
def test_ask_refuses_a_malformed_base_url_at_once_without_retries(url):
    r = forage("ask", "Q", "--corpus", str(CORPUS), "--base-url", url)
    assert r.returncode == 2
    line = one_error_line(r)
    assert "must start with http:// or https://" in line and "pw" not in line


def test_ask_runs_the_hierarchy_on_one_question():
    with StubServer() as stub:
        r = forage("ask", "Who designed Skerry Point Lighthouse?", "--corpus", str(CORPUS),
                   "--base-url", stub.url, "--strategy", "tree", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["meta"]["strategy"] == "tree"
    assert data["trace"]["subtasks"]  # planned sub-questions, each a task of its own
    assert data["meta"]["ledger"]["llm_calls"] > 1


def test_ask_refuses_an_unknown_strategy_listing_the_known_ones():
    r = forage("ask", "Q", "--corpus", str(CORPUS), "--strategy", "nope")
    assert r.returncode == 2
    line = one_error_line(r)
    assert "unknown strategy 'nope'" in line and "tree" in line and "rag" in line


def test_an_output_path_the_machine_refuses_is_its_problem_not_an_internal_error(tmp_path):
    (tmp_path / "file").write_text("x")
    r = forage("world", "--out", str(tmp_path / "file" / "world"), "--entities", "60",
               "--questions", "10")
    assert r.returncode == 1
    line = one_error_line(r)
    assert "not a folder" in line and "not with forage" in line
