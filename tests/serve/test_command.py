"""The ``forage serve`` command: its help, unsafe or bad options refused before anything loads
(one ``error:`` line, exit 2), and the service over an upstream OpenAI-compatible server
(``--base-url``; a stub server on 127.0.0.1 stands in for vLLM/SGLang) called with the ``openai``
client, including an upstream failure answered as 502 while the server keeps serving."""

from __future__ import annotations

import openai
import pytest
from serve_helpers import ROOT, forage, serve_process
from stub_openai import StubServer  # type: ignore[import-not-found]

CORPUS = ROOT / "examples" / "corpus"
KEY = "sk-forage-cli-0123456789"


def one_error_line(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error:") and "internal error" not in lines[0], r.stderr
    return lines[0]


def test_help_names_the_options_and_the_model_naming():
    r = forage("serve", "--help")
    assert r.returncode == 0
    for option in ("--corpus", "--api-key", "--no-auth", "--base-url", "--max-budget",
                   "--max-concurrency", "--request-timeout", "--max-body-bytes",
                   "--key-budget", "--key-window", "--key-reserve"):
        assert option in r.stdout
    assert "forage-<strategy>" in " ".join(r.stdout.split())


@pytest.mark.parametrize("args,env,needle,code", [
    (("--no-auth", "--host", "0.0.0.0"), {}, "only on a loopback", 2),
    ((), {}, "an API key is required", 2),
    (("--api-key", "short"), {}, "at least 8 characters", 2),
    (("--api-key", KEY, "--max-budget", "-5"), {}, "max budget", 2),
    (("--api-key", KEY, "--port", "70000"), {}, "--port", 2),
    (("--api-key", KEY, "--key-budget", "-5"), {}, "key budget must be a positive", 2),
    (("--api-key", KEY, "--key-budget", "0"), {}, "key budget must be a positive", 2),
    (("--api-key", KEY, "--key-budget", "1000", "--key-window", "0"), {}, "key window", 2),
    (("--api-key", KEY, "--key-reserve", "1.5"), {}, "key reserve", 2),
    (("--api-key", KEY, "--corpus", "a=examples/corpus", "--corpus", "a=examples/corpus"), {},
     "given twice", 2),
    (("--api-key", KEY, "--corpus", "examples/nothing-here"), {}, "does not exist", 1),
])
def test_unsafe_or_bad_options_are_refused_with_one_line(args, env, needle, code):
    corpus = () if "--corpus" in args else ("--corpus", f"a={CORPUS}")
    r = forage("serve", *corpus, *args, env=env)
    assert r.returncode == code, r.stderr
    assert needle in one_error_line(r)


def test_serves_over_an_upstream_server_and_reports_its_failure_as_502():
    with StubServer() as stub:
        with serve_process("--corpus", str(CORPUS), "--base-url", stub.url,
                           "--api-model", "stub", "--retries", "0", "--timeout", "10",
                           env={"FORAGE_SERVE_API_KEY": KEY}, start_timeout=60) as url:
            client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
            models = {m.id for m in client.models.list()}
            assert "forage-rag" in models and "forage-thread" not in models
            r = client.chat.completions.create(
                model="forage-rag", messages=[{"role": "user", "content": "Who built it?"}],
                extra_body={"budget": 1000})
            assert r.choices[0].message.content in {"Paris", "the answer", "Lyon"}
            assert len(stub.calls) == r.model_extra["forage"]["ledger"]["llm_calls"] >= 1
            assert r.usage.total_tokens > 0
            stub.mode = "error"
            with pytest.raises(openai.APIStatusError) as info:
                client.chat.completions.create(
                    model="forage-rag", messages=[{"role": "user", "content": "Who built it?"}])
            assert info.value.status_code == 502 and info.value.code == "upstream_error"
            stub.mode = "ok"
            again = client.chat.completions.create(
                model="forage-rag", messages=[{"role": "user", "content": "Who built it?"}])
            assert again.choices[0].message.content
