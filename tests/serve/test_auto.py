"""``auto`` requests run the adaptive cascade under the per-request cap and say which rung
answered; per-key windows refuse with 429 once spent, recover in the next window, and keep keys
apart. Over FastAPI's TestClient with the library's stand-in model (``serve_helpers``)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from serve_helpers import KEY, QUESTION, ask, corpus, tree_model

from forage.core.budget_rules import min_budget
from forage.serve.app import create_app
from forage.serve.auto import auto_cap, first_step
from forage.serve.settings import ServeSettings

EASY = "Who founded the Lantern Society?"  # the first reading answers it, confidently


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def client(llm=None, clock=None, **settings) -> TestClient:
    settings.setdefault("api_key", KEY)
    app = create_app(ServeSettings(**settings), llm=llm or tree_model(),
                     corpora={"lantern": corpus()}, clock=clock or Clock())
    return TestClient(app)


def post(c: TestClient, body: dict, key: str | None = KEY):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return c.post("/v1/chat/completions", json=body, headers=headers)


def test_a_confident_first_reading_stops_at_rung_read():
    llm = tree_model()
    r = post(client(llm), ask(question=EASY, reasoning_effort="auto"))
    assert r.status_code == 200, r.text
    body = r.json()
    ext = body["forage"]
    assert body["choices"][0]["message"]["content"] == "Ada Prell"
    assert (ext["strategy"], ext["rung"]) == ("adaptive", "read")
    assert [g["rung"] for g in ext["rungs"]] == ["read"]
    assert ext["budget"]["auto"] is True
    assert ext["budget"]["granted"] == auto_cap(ServeSettings().max_budget)
    assert 0 < ext["budget"]["spent"] == pytest.approx(ext["rungs"][0]["spent"])
    assert ext["budget"]["spent"] <= ext["rungs"][0]["grant"]
    assert not any((q.prompt or "").startswith("Split each question") for q in llm.requests)
    assert body["usage"]["prompt_tokens"] == ext["ledger"]["prompt_tokens"] > 0


def test_an_unconfident_first_reading_climbs_to_the_tree_and_answers():
    llm = tree_model()
    r = post(client(llm), ask(question=QUESTION, budget="auto"))
    assert r.status_code == 200, r.text
    ext = r.json()["forage"]
    assert r.json()["choices"][0]["message"]["content"] == "Harrowgate"
    rungs = [g["rung"] for g in ext["rungs"]]
    assert rungs[0] == "read" and len(rungs) >= 2
    assert ext["rung"] in ("tree", "replan") and ext["rung"] in rungs
    assert any((q.prompt or "").startswith("Split each question") for q in llm.requests)
    spent = sum(g["spent"] for g in ext["rungs"])
    assert ext["budget"]["spent"] == pytest.approx(spent)
    assert spent <= ext["budget"]["granted"]
    # the nodes are the answering rung's tree
    goals = [n["goal"] for n in ext["nodes"]]
    assert "Where was Ada Prell born?" in goals


def test_forage_adaptive_is_listed_and_runs_the_cascade_with_or_without_a_budget():
    c = client()
    ids = {m["id"] for m in c.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
           .json()["data"]}
    assert "forage-adaptive" in ids
    auto = post(c, ask(model="forage-adaptive", question=EASY)).json()["forage"]
    assert auto["rung"] == "read" and auto["budget"]["auto"] is True
    fixed = post(c, ask(model="forage-adaptive", question=QUESTION, budget=400)).json()["forage"]
    assert fixed["budget"]["auto"] is False and fixed["budget"]["granted"] == 400
    assert fixed["budget"]["spent"] <= 400
    trace = c.get(f"/v1/traces/{fixed['trace_id']}",
                  headers={"Authorization": f"Bearer {KEY}"}).json()
    assert trace["cascade"]["rungs"] == fixed["rungs"] and trace["strategy"] == "adaptive"


@pytest.mark.parametrize("extra,param,code", [
    ({"budget": "fast"}, "budget", "invalid_type"),
    ({"reasoning_effort": "fast"}, "reasoning_effort", "invalid_value"),
    ({"reasoning_effort": "auto", "budget": 500}, "budget", "invalid_value"),
    ({"reasoning_effort": "auto", "model": "forage-rag"}, "model", "invalid_value"),
    ({"budget": "auto", "knob": 2}, "knob", "invalid_value"),
    ({"budget": "auto", "max_search_calls": 2}, "max_search_calls", "invalid_value"),
    ({"budget": "auto", "stream": True}, "stream", "unsupported_value"),
])
def test_bad_auto_requests_are_refused_with_an_openai_error(extra, param, code):
    c = client()
    r = post(c, ask(**extra))
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (error["param"], error["code"]) == (param, code) and error["message"]
    assert post(c, ask(question=EASY, budget="auto")).status_code == 200  # still serving


def test_a_key_window_refuses_with_429_once_spent_and_recovers_in_the_next_window():
    clock = Clock()
    c = client(clock=clock, key_budget=1500, key_window=60)
    first = post(c, ask(model="forage-rag", budget=1500))
    assert first.status_code == 200, first.text
    spent = first.json()["forage"]["budget"]["spent"]
    assert 0 < spent <= 1500
    assert first.json()["forage"]["key_window"]["left"] == pytest.approx(1500 - spent)
    clock.now = 30
    refused = post(c, ask(model="forage-rag", budget=1500))
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    assert (error["type"], error["code"]) == ("rate_limit_error", "key_budget_exceeded")
    assert refused.headers["Retry-After"] == "30"
    # what still fits is served; a budget no window could hold is a 400, not a retry
    assert post(c, ask(model="forage-rag", budget=1500 - spent)).status_code == 200
    assert post(c, ask(model="forage-rag", budget=1501)).status_code == 400
    clock.now = 61
    again = post(c, ask(model="forage-rag", budget=1500))
    assert again.status_code == 200, again.text


def test_two_keys_and_the_anonymous_bucket_do_not_share_a_window():
    c = client(api_key=None, key_budget=1000, key_window=60)
    assert post(c, ask(model="forage-rag", budget=1000), key="alice-key").status_code == 200
    assert post(c, ask(model="forage-rag", budget=1000), key="alice-key").status_code == 429
    assert post(c, ask(model="forage-rag", budget=1000), key="bob-key").status_code == 200
    assert post(c, ask(model="forage-rag", budget=1000), key=None).status_code == 200
    assert post(c, ask(model="forage-rag", budget=1000), key=None).status_code == 429


def test_auto_is_granted_what_the_key_has_left_minus_the_reserve_then_refused():
    c = client(key_budget=2000, key_window=60, key_reserve=0.1)
    left = 2000.0
    grants = []
    for _ in range(40):
        r = post(c, ask(question=QUESTION, budget="auto"))
        if r.status_code == 429:
            break
        assert r.status_code == 200, r.text
        ext = r.json()["forage"]
        expected = min(auto_cap(20000), left - 200) if left - 200 >= min_budget() else \
            min(left, first_step())
        assert ext["budget"]["granted"] == pytest.approx(expected)
        assert ext["budget"]["spent"] <= ext["budget"]["granted"]
        grants.append(ext["budget"]["granted"])
        assert ext["key_window"]["left"] == pytest.approx(left - ext["budget"]["spent"])
        left = ext["key_window"]["left"]
    else:
        pytest.fail("the key's window never ran out")
    assert len(grants) >= 2 and left < min_budget()
    assert r.json()["error"]["code"] == "key_budget_exceeded"


def test_the_viewer_says_which_rung_answered():
    c = client()
    ext = post(c, ask(question=EASY, budget="auto")).json()["forage"]
    page = c.get(ext["view_url"])
    assert page.status_code == 200
    assert "answered at rung <b>read</b>" in page.text


def test_a_streamed_request_is_charged_to_its_key_window_too():
    c = client(key_budget=1500, key_window=60)
    r = post(c, ask(model="forage-rag", budget=1500, stream=True))
    assert r.status_code == 200 and "[DONE]" in r.text
    chunks = [json.loads(line[6:]) for line in r.text.splitlines()
              if line.startswith("data: {")]
    final = [ch["forage"] for ch in chunks if "budget" in ch.get("forage", {})][-1]
    spent = final["budget"]["spent"]
    assert 0 < spent and final["key_window"]["left"] == pytest.approx(1500 - spent)
    assert post(c, ask(model="forage-rag", budget=1500)).status_code == 429
    assert post(c, ask(model="forage-rag", budget=1500 - spent)).status_code == 200
