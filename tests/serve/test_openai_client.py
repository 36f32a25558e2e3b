"""The official ``openai`` client against a live ``forage serve`` (the real command, in a
subprocess on 127.0.0.1, real HTTP) answering with the embedded SmolLM2 over examples/corpus.

The model's words differ between machines, so the checks are what any competent run shows: an
answer drawn from the corpus (or none, said so by the finish reason), the retrieved source, usage
that equals the run's ledger, budgets respected, progress before the answer when streamed.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from answer_checks import assert_drawn_from, assert_short_span
from serve_helpers import serve_process

openai = pytest.importorskip("openai")

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "corpus"
CORPUS_TEXTS = [p.read_text() for p in CORPUS.iterdir()]
KEY = "sk-forage-test-0123456789"
QUESTION = "Who founded the Marrow Festival?"

pytestmark = pytest.mark.embedded  # the server process loads SmolLM2


@pytest.fixture(scope="module")
def server():
    with serve_process("--corpus", str(CORPUS), "--model", "smollm2", "--n-ctx", "2048",
                       env={"FORAGE_SERVE_API_KEY": KEY}) as url:
        yield url


def client(url: str, key: str = KEY):
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def _check_answer(text: str, finish_reason: str, question: str) -> None:
    if finish_reason == "stop" and text:
        assert_short_span(text, question)
        assert_drawn_from(text, CORPUS_TEXTS, at_least=0.5)
    else:
        assert finish_reason == "length"


def test_plain_call_answers_with_usage_equal_to_the_ledger(server):
    c = client(server)
    assert {"forage-rag", "forage-tree", "forage-react"} <= {m.id for m in c.models.list()}
    r = c.chat.completions.create(model="forage-rag",
                                  messages=[{"role": "user", "content": QUESTION}],
                                  extra_body={"budget": 1500, "knob": 1})
    ext = r.model_extra["forage"]
    _check_answer(r.choices[0].message.content, r.choices[0].finish_reason, QUESTION)
    assert "marrow-festival" in " ".join(ext["sources"])  # BM25 finds the festival's page
    assert r.usage.prompt_tokens == ext["ledger"]["prompt_tokens"] > 0
    assert r.usage.completion_tokens == ext["ledger"]["completion_tokens"]
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert 0 < ext["budget"]["spent"] <= 1500
    page = httpx.get(server + ext["view_url"], timeout=30)
    assert page.status_code == 200 and "Marrow Festival" in page.text


def test_streamed_tree_call_sends_progress_then_the_answer(server):
    c = client(server)
    chunks = list(c.chat.completions.create(
        model="forage-tree", messages=[{"role": "user", "content": QUESTION}],
        reasoning_effort="low", stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].model_extra["forage"]["event"] == "start"
    progress = [ch.model_extra["forage"]["event"] for ch in chunks
                if not ch.choices and ch.model_extra.get("forage")]
    assert "search" in progress and "generate" in progress
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    (final,) = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    _check_answer(text, final.choices[0].finish_reason, QUESTION)
    ext = final.model_extra["forage"]
    assert ext["budget"]["limit"] == 1000 and ext["budget"]["spent"] <= 1000  # the low preset
    assert ext["ledger"]["llm_calls"] >= 1 and ext["nodes"][0]["goal"] == QUESTION
    usage = chunks[-1].usage
    assert usage.total_tokens == ext["ledger"]["prompt_tokens"] + ext["ledger"]["completion_tokens"]


def test_an_invalid_key_is_refused_and_the_server_keeps_serving(server):
    with pytest.raises(openai.AuthenticationError) as info:
        client(server, key="sk-wrong-key-000000").chat.completions.create(
            model="forage-rag", messages=[{"role": "user", "content": QUESTION}])
    assert info.value.status_code == 401 and info.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError):
        client(server).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.BadRequestError) as info:
        client(server).chat.completions.create(
            model="forage-rag", messages=[{"role": "user", "content": QUESTION}],
            extra_body={"budget": -1})
    assert info.value.body["param"] == "budget"
    r = client(server).chat.completions.create(
        model="forage-rag", messages=[{"role": "user", "content": QUESTION}],
        reasoning_effort="low")
    assert r.model_extra["forage"]["budget"]["spent"] <= 1000


def test_the_readmes_three_lines_work_against_the_server(server, capsys):
    readme = (ROOT / "README.md").read_text()
    (snippet,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
                  if "from openai import OpenAI" in b]
    assert len(snippet.strip().splitlines()) <= 4  # import, client, the call (wrapped once)
    key = re.search(r'api_key="([^"]+)"', snippet).group(1)
    code = snippet.replace("http://127.0.0.1:8000/v1", f"{server}/v1").replace(key, KEY)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.strip()
    if printed:
        assert_drawn_from(printed, CORPUS_TEXTS, at_least=0.5)
