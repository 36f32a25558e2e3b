"""The OpenAI-compatible backend against a real llama.cpp server (SmolLM2-135M), not a mock.

The server is started once per session by the ``llama_server`` fixture (``tests/llm/conftest.py``).
Generations are kept to a few tokens: these tests check behaviour, never speed.
"""

from __future__ import annotations

import openai
import pytest

from forage.core.budget import Budget
from forage.core.errors import ConnectError
from forage.llm import metered
from forage.llm.base import LLMRequest, Message
from forage.llm.openai_compat import OpenAICompatLLM

pytestmark = pytest.mark.server


def server_llm(base_url: str, **kwargs: object) -> OpenAICompatLLM:
    return OpenAICompatLLM(base_url, "smollm2", timeout=60, **kwargs)  # type: ignore[arg-type]


COUNT = LLMRequest(prompt="1, 2, 3,", max_tokens=8, temperature=0.0)
CHAT = LLMRequest(
    messages=(Message(role="user", content="What is the capital of France?"),),
    max_tokens=8,
    temperature=0.0,
)


async def test_completion_returns_text_and_the_servers_usage(llama_server: str) -> None:
    async with server_llm(llama_server) as llm:
        response = await llm.complete(COUNT)
    assert response.text.strip()
    usage = response.usage
    assert not usage.estimated
    assert usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= COUNT.max_tokens
    assert response.choices[0].finish_reason in ("stop", "length")


async def test_chat_completion_returns_text_and_the_servers_usage(llama_server: str) -> None:
    async with server_llm(llama_server) as llm:
        response = await llm.complete(CHAT)
    assert response.text.strip()
    assert not response.usage.estimated
    # The chat template wraps the message in role markers (and SmolLM2 adds a system prompt), so
    # the server's count is larger than a count of the question's words.
    assert response.usage.prompt_tokens > len(CHAT.text_for_counting().split())
    assert 0 < response.usage.completion_tokens <= CHAT.max_tokens


# A grammar forces the text, so the stop string is certainly in it whatever the model would prefer.
FORCED = LLMRequest(prompt="Say it:", max_tokens=16, temperature=0.0,
                    grammar='root ::= "alpha beta gamma delta"')


async def test_stop_strings_are_honoured_on_text_that_contains_them(llama_server: str) -> None:
    async with server_llm(llama_server, supports_grammar=True) as llm:
        free = await llm.complete(FORCED)
        stopped = await llm.complete(FORCED.model_copy(update={"stop": (" gamma",)}))
    assert free.text == "alpha beta gamma delta"
    assert stopped.text == "alpha beta"
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.usage.completion_tokens < free.usage.completion_tokens


async def test_identical_requests_are_counted_identically(llama_server: str) -> None:
    # Not bit-identical text: a server may answer an identical temperature-0 request differently
    # (a cached prompt prefix is evaluated in other batches). Token counts are exact either way.
    request = LLMRequest(prompt="Once upon a time", max_tokens=8, temperature=0.0)
    async with server_llm(llama_server) as llm:
        first = await llm.complete(request)
        second = await llm.complete(request)
    for response in (first, second):
        assert not response.usage.estimated
        assert 0 < response.usage.completion_tokens <= request.max_tokens
    assert first.usage.prompt_tokens == second.usage.prompt_tokens > 0


async def test_fan_out_returns_n_samples_and_sums_their_usage(llama_server: str) -> None:
    request = LLMRequest(prompt="My favourite animal is", max_tokens=6, temperature=1.0, n=3,
                         seed=11, logprobs=True)
    async with server_llm(llama_server, concurrency=2) as llm:
        fanned = await llm.complete(request)
        single = await llm.complete(request.model_copy(update={"n": 1}))
    assert len(fanned.choices) == 3
    assert not fanned.usage.estimated
    assert fanned.usage.prompt_tokens == 3 * single.usage.prompt_tokens  # the prompt read 3 times
    per_choice = [len(c.token_logprobs or ()) for c in fanned.choices]
    assert all(1 <= k <= request.max_tokens for k in per_choice)
    assert fanned.usage.completion_tokens == sum(per_choice)


async def test_logprobs_come_back_per_token_in_both_modes(llama_server: str) -> None:
    async with server_llm(llama_server) as llm:
        completion = await llm.complete(COUNT.model_copy(update={"logprobs": True}))
        chat = await llm.complete(CHAT.model_copy(update={"logprobs": True}))
    for response in (completion, chat):
        logprobs = response.choices[0].token_logprobs
        assert logprobs is not None
        assert len(logprobs) == response.usage.completion_tokens
        assert all(lp <= 0.0 for lp in logprobs)


async def test_top_logprobs_come_back_ranked_in_both_modes(llama_server: str) -> None:
    async with server_llm(llama_server) as llm:
        responses = [await llm.complete(r.model_copy(update={"logprobs": True, "top_logprobs": 3}))
                     for r in (COUNT, CHAT)]
    for response in responses:
        tops = response.choices[0].top_logprobs
        assert tops is not None and len(tops) == response.usage.completion_tokens
        for alts in tops:
            assert 1 <= len(alts) <= 3
            assert [lp for _, lp in alts] == sorted((lp for _, lp in alts), reverse=True)


async def test_grammar_constrains_the_output(llama_server: str) -> None:
    request = LLMRequest(
        prompt="Is Paris in France? Answer:", max_tokens=4, temperature=1.0, seed=3,
        grammar='root ::= "yes" | "no"',
    )
    async with server_llm(llama_server, supports_grammar=True) as llm:
        response = await llm.complete(request)
    assert response.text in ("yes", "no")


async def test_the_official_openai_client_talks_to_the_same_server(llama_server: str) -> None:
    # The same request through both clients: same tokenisation and limits (the texts themselves
    # need not be bit-identical, see test_identical_requests_are_counted_identically).
    client = openai.AsyncOpenAI(base_url=f"{llama_server}/v1", api_key="unused", max_retries=0)
    try:
        theirs = await client.completions.create(
            model="smollm2", prompt=COUNT.prompt, max_tokens=COUNT.max_tokens, temperature=0.0
        )
    finally:
        await client.close()
    async with server_llm(llama_server) as llm:
        ours = await llm.complete(COUNT)
    assert theirs.usage is not None
    assert theirs.usage.prompt_tokens == ours.usage.prompt_tokens > 0
    assert 0 < theirs.usage.completion_tokens <= COUNT.max_tokens
    assert 0 < ours.usage.completion_tokens <= COUNT.max_tokens
    assert theirs.choices[0].text.strip() and ours.text.strip()


async def test_unreachable_port_is_a_connect_error(unused_port: int) -> None:
    url = f"http://127.0.0.1:{unused_port}"
    delays: list[float] = []

    async def no_wait(seconds: float) -> None:
        delays.append(seconds)

    async with OpenAICompatLLM(url, "smollm2", max_retries=2, sleep=no_wait) as llm:
        with pytest.raises(ConnectError, match=rf"cannot reach {url}/v1/completions"):
            await llm.complete(COUNT)
    assert len(delays) == 2  # retried, then gave up with the last error


async def test_metered_call_charges_the_servers_usage(llama_server: str) -> None:
    budget = Budget(10_000)
    async with server_llm(llama_server) as llm:
        response, returned = await metered.complete(llm, CHAT, budget, label="server")
    (entry,) = budget.ledger.entries
    assert returned == entry  # the call's own ledger entry
    assert entry.kind == "llm" and entry.label == "server" and not entry.estimated
    assert entry.usage.prompt_tokens == response.usage.prompt_tokens
    assert entry.usage.completion_tokens == response.usage.completion_tokens
    assert entry.usage.llm_calls == 1 and entry.usage.llm_seconds > 0
    assert budget.spent == pytest.approx(
        0.25 * response.usage.prompt_tokens + 1.0 * response.usage.completion_tokens
    )


def _forage_cli(*args: str, key: str | None):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k not in ("FORAGE_API_KEY", "OPENAI_API_KEY")}
    if key is not None:
        env["FORAGE_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "forage.cli.app", *args], capture_output=True, text=True,
        timeout=300, cwd=root, env=env,
    )


def test_cli_with_a_rejected_api_key_prints_one_line(llama_server_with_key):
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[2] / "examples" / "corpus"
    r = _forage_cli("ask", "Who founded the Marrow Festival?", "--corpus", str(corpus),
                    "--base-url", llama_server_with_key, key="wrong-key")
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "401" in lines[0] or "rejected" in lines[0].lower() or "key" in lines[0].lower()
    assert "Traceback" not in r.stderr


def test_cli_with_the_right_api_key_answers_through_the_server(llama_server_with_key, server_api_key):
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[2] / "examples" / "corpus"
    r = _forage_cli("ask", "Who founded the Marrow Festival?", "--corpus", str(corpus),
                    "--base-url", llama_server_with_key, "--json", key=server_api_key)
    assert r.returncode == 0, r.stderr
    import json

    from answer_checks import assert_drawn_from

    data = json.loads(r.stdout)
    ledger = data["meta"]["ledger"]
    assert ledger["llm_calls"] == 1 and ledger["search_calls"] == 1
    search, generate = data["trace"]["actions"]
    assert (search["kind"], generate["kind"]) == ("search", "generate")
    assert ledger["compute"] == pytest.approx(search["cost"] + generate["cost"])
    # The answer is the server's reply, cleaned. (Its quality is not judged: SmolLM2 reads poorly
    # from chat prompts, and a reader's words differ between machines.)
    if data["text"]:
        assert_drawn_from(data["text"], [generate["output"]])
    else:
        assert data["exhausted"]
