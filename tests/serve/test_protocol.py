"""Parsing chat-completions requests into runs: models, budgets, efforts, limits."""

from __future__ import annotations

import pytest

from forage.serve.protocol import ApiError, parse_chat_request, parse_json
from forage.serve.settings import EFFORT_PRESETS, ServeSettings, check_bind, is_loopback
from forage.core.errors import ConfigError

SETTINGS = ServeSettings(api_key="k" * 16, max_budget=10_000)
STRATEGIES = ("rag", "react", "tree")


def parse(**body):
    base = {"model": "forage-rag", "messages": [{"role": "user", "content": "Who?"}]}
    return parse_chat_request({**base, **body}, SETTINGS, STRATEGIES, ("main", "other"))


def refused(status: int, param: str | None = None, **body) -> ApiError:
    with pytest.raises(ApiError) as info:
        parse(**body)
    assert info.value.status == status
    if param is not None:
        assert info.value.param == param
    error = info.value.body()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return info.value


def test_default_effort_sets_budget_knob_and_search_cap():
    req = parse()
    medium = EFFORT_PRESETS["medium"]
    assert (req.strategy, req.budget, req.max_search_calls) == ("rag", medium.budget,
                                                               medium.max_search_calls)
    assert req.knob == 2  # rag's ladder (1, 2, 3, 5), rung 1
    assert req.corpus == "main" and req.question == "Who?" and not req.stream


def test_reasoning_effort_maps_to_its_preset_and_explicit_fields_win():
    low, high = parse(reasoning_effort="low"), parse(reasoning_effort="high")
    assert low.budget < high.budget and low.max_search_calls < high.max_search_calls
    assert low.knob < high.knob
    req = parse(reasoning_effort="high", budget=500, max_search_calls=1, knob=1, corpus="other")
    assert (req.budget, req.max_search_calls, req.knob, req.corpus) == (500, 1, 1, "other")


def test_the_question_is_the_last_user_message_text_parts_included():
    req = parse(messages=[{"role": "system", "content": "be brief"},
                          {"role": "user", "content": "first"},
                          {"role": "assistant", "content": "ok"},
                          {"role": "user", "content": [{"type": "text", "text": "second"}]}])
    assert req.question == "second"


@pytest.mark.parametrize("budget", [-1, 0, 10, 1e9, 10_001])
def test_budgets_outside_the_floor_and_the_cap_are_refused(budget):
    refused(400, "budget", budget=budget)


def test_non_numbers_and_non_finite_budgets_are_refused():
    refused(400, "budget", budget="lots")
    refused(400, "budget", budget=float("inf"))
    with pytest.raises(ApiError) as info:  # NaN and Infinity are not JSON
        parse_json(b'{"model": "forage-rag", "budget": NaN}')
    assert info.value.status == 400 and info.value.code == "invalid_json"
    # 1e999 is valid JSON that decodes to infinity
    data = parse_json(b'{"model": "forage-rag", "messages": [{"role": "user", "content": "q"}],'
                      b' "budget": 1e999}')
    with pytest.raises(ApiError) as info:
        parse_chat_request(data, SETTINGS, STRATEGIES, ("main",))
    assert info.value.param == "budget"


def test_unknown_models_corpora_efforts_and_bad_fields_are_named():
    assert refused(404, "model", model="gpt-4").code == "model_not_found"
    refused(404, "model", model="forage-nonsense")
    refused(400, "reasoning_effort", reasoning_effort="extreme")
    refused(400, "corpus", corpus="nope")
    refused(400, "max_search_calls", max_search_calls=0)
    refused(400, "max_search_calls", max_search_calls=10_000)
    refused(400, "knob", knob=0)
    refused(400, "n", n=3)
    refused(400, "messages", messages=[])
    refused(400, "messages", messages=[{"role": "user", "content": "   "}])
    refused(400, "messages", messages=[{"role": "user", "content": "x" * 9000}])
    refused(400, "messages[0].role", messages=[{"role": "wizard", "content": "q"}])


@pytest.mark.parametrize("field,value,param", [
    ("budget", "500", "budget"),
    ("budget", True, "budget"),
    ("max_search_calls", "3", "max_search_calls"),
    ("knob", True, "knob"),
    ("n", "1", "n"),
    ("seed", 1.5, "seed"),
    ("stream", "yes", "stream"),
    ("stream", 1, "stream"),
    ("stream_options", {"include_usage": "yes"}, "stream_options.include_usage"),
    ("reasoning_effort", 2, "reasoning_effort"),
])
def test_wrongly_typed_fields_are_refused_not_coerced(field, value, param):
    error = refused(400, param, **{field: value})
    assert error.code == "invalid_type" and error.type == "invalid_request_error"
    assert error.message.startswith(f"invalid type for {param}: "), error.message


def test_a_boolean_budget_is_not_read_as_a_budget_of_one():
    error = refused(400, "budget", budget=True)
    assert "budget 1" not in error.message and "a boolean" in error.message


def test_numbers_of_the_right_type_still_pass():
    req = parse(budget=500, max_search_calls=2, knob=1, seed=3, stream=True,
                stream_options={"include_usage": True})
    assert (req.budget, req.max_search_calls, req.knob, req.seed) == (500.0, 2, 1, 3)
    assert req.stream and req.include_usage
    assert parse(budget=750.5).budget == 750.5


def test_params_are_written_as_openai_writes_them():
    e = refused(400, "messages[0].content", messages=[{"role": "user", "content": 5}])
    assert e.message == ("invalid type for messages[0].content: input should be a valid string "
                         "or input should be a valid list, not a number")
    refused(400, "messages[1].content[0].type",
            messages=[{"role": "system", "content": "s"},
                      {"role": "user", "content": [{"text": "q"}]}])
    refused(400, "messages[0].role", messages=[{"content": "q"}])


def test_malformed_json_and_non_objects_are_refused():
    for body in (b"{", b"[1, 2]", b"\xff\xfe", b""):
        with pytest.raises(ApiError) as info:
            parse_chat_request(parse_json(body), SETTINGS, STRATEGIES, ("main",))
        assert info.value.status == 400


def test_no_auth_only_on_loopback_and_a_key_otherwise():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert check_bind("127.0.0.1", None, no_auth=True) is None
    assert check_bind("0.0.0.0", "s" * 12, no_auth=False) == "s" * 12
    with pytest.raises(ConfigError, match="loopback"):
        check_bind("0.0.0.0", None, no_auth=True)
    with pytest.raises(ConfigError, match="API key is required"):
        check_bind("127.0.0.1", None, no_auth=False)
    with pytest.raises(ConfigError, match="at least 8"):
        ServeSettings(api_key="short")
