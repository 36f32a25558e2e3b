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


async def test_stop_strings_are_honoured(llama_server: str) -> None:
    async with server_llm(llama_server) as llm:
        free = await llm.complete(COUNT)
        stopped = await llm.complete(COUNT.model_copy(update={"stop": (" 5",)}))
    assert " 5" in free.text  # greedy SmolLM2 keeps counting
    assert " 5" not in stopped.text
    assert free.text.startswith(stopped.text)
    assert stopped.choices[0].finish_reason == "stop"


async def test_temperature_zero_is_deterministic(llama_server: str) -> None:
    request = LLMRequest(prompt="Once upon a time", max_tokens=8, temperature=0.0)
    async with server_llm(llama_server) as llm:
        first = await llm.complete(request)
        second = await llm.complete(request)
    assert first.text == second.text
    assert first.usage == second.usage


async def test_fan_out_samples_are_reproducible_by_seed(llama_server: str) -> None:
    request = LLMRequest(prompt="My favourite animal is", max_tokens=6, temperature=1.0, n=3,
                         seed=11)
    async with server_llm(llama_server, concurrency=2) as llm:
        first = await llm.complete(request)
        again = await llm.complete(request)
    assert len(first.choices) == 3
    assert [c.text for c in first.choices] == [c.text for c in again.choices]
    assert first.usage.prompt_tokens == 3 * (first.usage.prompt_tokens // 3)  # read 3 times
    assert not first.usage.estimated


async def test_logprobs_come_back_per_token_in_both_modes(llama_server: str) -> None:
    async with server_llm(llama_server) as llm:
        completion = await llm.complete(COUNT.model_copy(update={"logprobs": True}))
        chat = await llm.complete(CHAT.model_copy(update={"logprobs": True}))
    for response in (completion, chat):
        logprobs = response.choices[0].token_logprobs
        assert logprobs is not None
        assert len(logprobs) == response.usage.completion_tokens
        assert all(lp <= 0.0 for lp in logprobs)


async def test_grammar_constrains_the_output(llama_server: str) -> None:
    request = LLMRequest(
        prompt="Is Paris in France? Answer:", max_tokens=4, temperature=1.0, seed=3,
        grammar='root ::= "yes" | "no"',
    )
    async with server_llm(llama_server, supports_grammar=True) as llm:
        response = await llm.complete(request)
    assert response.text in ("yes", "no")


async def test_the_official_openai_client_talks_to_the_same_server(llama_server: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{llama_server}/v1", api_key="unused", max_retries=0)
    try:
        theirs = await client.completions.create(
            model="smollm2", prompt=COUNT.prompt, max_tokens=COUNT.max_tokens, temperature=0.0
        )
    finally:
        await client.close()
    async with server_llm(llama_server) as llm:
        ours = await llm.complete(COUNT)
    assert theirs.choices[0].text == ours.text
    assert theirs.usage is not None
    assert theirs.usage.prompt_tokens == ours.usage.prompt_tokens


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
        response = await metered.complete(llm, CHAT, budget, label="server")
    (entry,) = budget.ledger.entries
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

    data = json.loads(r.stdout)
    assert data["meta"]["ledger"]["llm_calls"] == 1
    assert data["text"]
