"""``forage serve`` over real HTTP (uvicorn on 127.0.0.1) with the library's stand-in models:
responses, usage, traces, streaming, limits, cancellation and bad input."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
from serve_helpers import QUESTION, ask, chat, live_server

from forage.llm.testing import FunctionLLM


class SlowLLM(FunctionLLM):
    """Always searches again (a ReAct action), after ``delay`` seconds per call; counts calls."""

    def __init__(self, delay: float) -> None:
        super().__init__(lambda r: "Search[Lantern Society]")
        self.delay = delay
        self.calls = 0

    async def complete(self, request):
        self.calls += 1
        await asyncio.sleep(self.delay)
        return await super().complete(request)


def sse_events(response: httpx.Response) -> list[dict | str]:
    out: list[dict | str] = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[len("data: "):]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_usage_counts_every_hidden_call_and_the_extension_has_the_per_node_ledger():
    with live_server() as live:
        r = chat(live, ask(budget=3000, max_search_calls=6))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"] == {"role": "assistant", "content": "Harrowgate"}
        ext = body["forage"]
        ledger = ext["ledger"]
        # the planner, both executors' readers and the synthesiser all ran and are all counted
        assert ledger["llm_calls"] >= 4
        assert body["usage"]["prompt_tokens"] == ledger["prompt_tokens"]
        assert body["usage"]["completion_tokens"] == ledger["completion_tokens"]
        assert body["usage"]["total_tokens"] == ledger["prompt_tokens"] + ledger["completion_tokens"]
        assert ext["budget"]["limit"] == 3000 and 0 < ext["budget"]["spent"] <= 3000
        assert ext["budget"]["search_calls"] <= 6
        nodes = ext["nodes"]
        goals = [n["goal"] for n in nodes]
        assert "Who founded the Lantern Society?" in goals and "Where was Ada Prell born?" in goals
        assert any(n["pruned"] for n in nodes) and not nodes[0]["pruned"]
        assert nodes[0]["spent"] == pytest.approx(ledger["compute"])
        assert sum(n["own_cost"] for n in nodes) == pytest.approx(ledger["compute"])
        # the stored trace is the same run
        t = httpx.get(f"{live.url}/v1/traces/{ext['trace_id']}", headers=live.headers())
        assert t.status_code == 200
        assert t.json()["answer"] == "Harrowgate" and t.json()["trace"]["goal"] == QUESTION
        assert t.json()["documents"], "the searched documents' texts are kept for the viewer"
        assert r.headers["X-Forage-Trace-Id"] == ext["trace_id"]


def test_models_lists_the_strategies_as_forage_models():
    with live_server() as live:
        r = httpx.get(f"{live.url}/v1/models", headers=live.headers())
        ids = {m["id"] for m in r.json()["data"]}
        assert {"forage-tree", "forage-react", "forage-rag"} <= ids
        assert "forage-tree_oracle" not in ids and "forage-thread" not in ids  # no KV editing


def test_stream_sends_progress_then_the_answer_then_done():
    with live_server() as live:
        with httpx.stream("POST", f"{live.url}/v1/chat/completions", headers=live.headers(),
                          json=ask(stream=True, stream_options={"include_usage": True})) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            events = sse_events(r)
    assert events[-1] == "[DONE]"
    chunks = [e for e in events if isinstance(e, dict)]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    progress = [c["forage"]["event"] for c in chunks if not c["choices"] and "forage" in c]
    assert "search" in progress and "generate" in progress
    first_content = next(i for i, c in enumerate(chunks)
                         if c["choices"] and c["choices"][0]["delta"].get("content"))
    last_progress = max(i for i, c in enumerate(chunks)
                        if not c["choices"] and c.get("forage", {}).get("event") == "generate")
    assert last_progress < first_content, "progress comes before the answer"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Harrowgate"
    final = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(final) == 1 and final[0]["forage"]["nodes"]
    spent = [c["forage"]["spent"] for c in chunks if not c["choices"] and "forage" in c
             and "spent" in c["forage"]]
    assert spent == sorted(spent), "the budget spent only grows"
    usage = chunks[-1]["usage"]
    assert usage["total_tokens"] == final[0]["forage"]["ledger"]["prompt_tokens"] + \
        final[0]["forage"]["ledger"]["completion_tokens"]


def _assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


def test_bad_input_gets_openai_errors_and_the_server_keeps_serving():
    with live_server(max_body_bytes=2048) as live:
        _assert_error(chat(live, "{not json"), 400, "invalid_json")
        _assert_error(chat(live, '{"model": "forage-rag", "budget": NaN}'), 400, "invalid_json")
        _assert_error(chat(live, "[]"), 400)
        _assert_error(chat(live, ask(model="gpt-5")), 404, "model_not_found")
        assert _assert_error(chat(live, ask(budget=-5)), 400)["param"] == "budget"
        assert _assert_error(chat(live, ask(budget=1e12)), 400)["param"] == "budget"
        too_big = ask(question="x " * 5000)
        _assert_error(chat(live, too_big), 413, "request_too_large")
        # a body without Content-Length (chunked) is cut off at the cap too
        chunks = (b"x" * 1024 for _ in range(8))
        r = httpx.post(f"{live.url}/v1/chat/completions", content=chunks,
                       headers={**live.headers(), "Content-Type": "application/json"})
        _assert_error(r, 413, "request_too_large")
        _assert_error(chat(live, ask(), key=None), 401, "invalid_api_key")
        _assert_error(chat(live, ask(), key="wrong-key-123456"), 401, "invalid_api_key")
        _assert_error(httpx.get(f"{live.url}/v1/nothing", headers=live.headers()), 404)
        _assert_error(httpx.get(f"{live.url}/v1/chat/completions", headers=live.headers()), 405)
        _assert_error(httpx.get(f"{live.url}/v1/traces/fgnope", headers=live.headers()), 404,
                      "trace_not_found")
        ok = chat(live, ask(budget=2000))
        assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"]


def test_wrongly_typed_fields_get_400_invalid_type_and_are_never_run():
    with live_server() as live:
        for field, value in (("budget", "500"), ("budget", True), ("stream", "yes")):
            error = _assert_error(chat(live, ask(**{field: value})), 400, "invalid_type")
            assert error["param"] == field and error["type"] == "invalid_request_error"
        error = _assert_error(chat(live, {"model": "forage-rag",
                                          "messages": [{"role": "user", "content": 7}]}), 400)
        assert error["param"] == "messages[0].content" and ".str" not in error["message"]
        traces = httpx.get(f"{live.url}/v1/traces", headers=live.headers()).json()
        assert traces["data"] == []  # nothing ran


def test_the_trace_and_the_viewer_show_model_time_and_the_wait_for_the_model_apart():
    with live_server() as live:
        ext = chat(live, ask()).json()["forage"]
        assert ext["ledger"]["llm_seconds"] > 0 and ext["ledger"]["llm_wait_seconds"] >= 0
        trace = httpx.get(f"{live.url}/v1/traces/{ext['trace_id']}", headers=live.headers()).json()
        assert "llm_wait_seconds" in json.dumps(trace)
        page = httpx.get(f"{live.url}{ext['view_url']}").text
        assert "s of model time +" in page and "s waiting for the model" in page


def test_the_viewer_needs_the_key_or_the_traces_own_token():
    with live_server() as live:
        ext = chat(live, ask()).json()["forage"]
        other = chat(live, ask()).json()["forage"]
        tid = ext["trace_id"]
        assert "token=" in ext["view_url"]
        assert httpx.get(f"{live.url}{ext['view_url']}").status_code == 200
        assert httpx.get(f"{live.url}/view/{tid}", headers=live.headers()).status_code == 200
        assert httpx.get(f"{live.url}/view/{tid}").status_code == 401
        # one trace's token does not open another trace
        token = ext["view_url"].split("token=")[1]
        assert httpx.get(f"{live.url}/view/{other['trace_id']}?token={token}").status_code == 401


def test_no_auth_serves_without_a_key():
    with live_server(api_key=None) as live:
        r = chat(live, ask(), key=None)
        assert r.status_code == 200
        assert r.json()["forage"]["view_url"] == f"/view/{r.json()['forage']['trace_id']}"


def test_beyond_the_concurrency_and_queue_caps_requests_get_429():
    llm = SlowLLM(0.3)
    with live_server(llm=llm, max_concurrency=1, max_queue=0) as live:
        results: list[httpx.Response] = []

        def call() -> None:
            results.append(chat(live, ask(model="forage-react", knob=2, budget=2000)))

        first = threading.Thread(target=call)
        first.start()
        time.sleep(0.15)  # the first request holds the only slot
        busy = chat(live, ask(model="forage-react", knob=2, budget=2000))
        first.join()
        error = _assert_error(busy, 429, "server_busy")
        assert error["type"] == "rate_limit_error" and busy.headers["Retry-After"]
        assert results[0].status_code == 200
        # the slot came back
        assert chat(live, ask(model="forage-react", knob=1, budget=2000)).status_code == 200


def test_a_run_past_the_timeout_is_cancelled_with_504_and_recorded():
    llm = SlowLLM(0.2)
    with live_server(llm=llm, request_timeout=0.5) as live:
        r = chat(live, ask(model="forage-react", knob=8, budget=20000, max_search_calls=32))
        _assert_error(r, 504, "request_timeout")
        calls = llm.calls
        time.sleep(0.6)
        assert llm.calls == calls, "no call starts after the timeout"
        (latest,) = httpx.get(f"{live.url}/v1/traces?limit=1", headers=live.headers()).json()["data"]
        assert latest["status"] == "timeout" and latest["spent"] <= latest["budget"]


def _wait_for_status(live, status: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = httpx.get(f"{live.url}/v1/traces?limit=1", headers=live.headers()).json()["data"]
        if data and data[0]["status"] == status:
            return data[0]
        time.sleep(0.05)
    raise AssertionError(f"no run reached status {status!r}")


def test_a_client_that_disconnects_cancels_the_runs_remaining_calls():
    llm = SlowLLM(0.15)
    with live_server(llm=llm) as live:
        with pytest.raises(httpx.ReadTimeout):
            chat(live, ask(model="forage-react", knob=8, budget=20000, max_search_calls=32),
                 timeout=0.5)
        record = _wait_for_status(live, "cancelled")
        calls = llm.calls
        time.sleep(0.6)
        assert llm.calls == calls, "no call starts after the client left"
        assert calls < 8 and record["spent"] <= record["budget"]
        assert httpx.get(f"{live.url}/health").json()["running"] == 0


def test_a_streaming_client_that_disconnects_cancels_the_run_too():
    llm = SlowLLM(0.15)
    with live_server(llm=llm) as live:
        with httpx.stream("POST", f"{live.url}/v1/chat/completions", headers=live.headers(),
                          json=ask(model="forage-react", knob=8, budget=20000,
                                   max_search_calls=32, stream=True)) as r:
            for line in r.iter_lines():
                if '"event":"generate"' in line:
                    break  # leave after the first model call
        _wait_for_status(live, "cancelled")
        calls = llm.calls
        time.sleep(0.6)
        assert llm.calls == calls and calls < 8
        assert httpx.get(f"{live.url}/health").json()["running"] == 0


def test_a_client_that_leaves_while_queued_never_starts_a_run():
    llm = SlowLLM(0.1)
    with live_server(llm=llm, max_concurrency=1, max_queue=4) as live:
        results: list[httpx.Response] = []
        first = threading.Thread(target=lambda: results.append(
            chat(live, ask(model="forage-react", knob=6, budget=20000, max_search_calls=32))))
        first.start()
        time.sleep(0.1)
        with pytest.raises(httpx.ReadTimeout):  # waits behind the first, then leaves
            chat(live, ask(model="forage-react", knob=6, budget=20000), timeout=0.3)
        first.join()
        time.sleep(0.5)
        assert results[0].status_code == 200
        runs = httpx.get(f"{live.url}/v1/traces", headers=live.headers()).json()["data"]
        assert [r["status"] for r in runs] == ["done"]
        assert llm.calls == results[0].json()["forage"]["ledger"]["llm_calls"]
        assert httpx.get(f"{live.url}/health").json()["running"] == 0
