"""Single-stream (thread) strategy: line format, loop logic on a scripted stream, KV pruning on the
real embedded models.

Logic tests drive the loop with ``ScriptedLineStream`` (no model). KV tests teacher-force a known
trajectory into a real llama.cpp stream (``KVLineStream(script=...)``) and compare the pruned stream
with the unpruned one and with a fresh evaluation, using the tolerances of
``tests/llm/test_kv_surgery.py`` (SmolLM2 1e-3, Gemma 0.05 max abs logit difference).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from answer_checks import assert_competent  # what any competent real-model run has

from forage.core.budget import Budget
from forage.core.types import Document
from forage.search.testing import StaticSearch
from forage.prompts.exemplars import ExemplarSet
from forage.hierarchy.thread import Thread
from forage.hierarchy.thread_format import (
    Line,
    Position,
    allowed_next,
    check_line,
    parse_line,
    render_preamble,
    result_text,
)
from forage.llm.line_stream import KVLineStream, ScriptedLineStream
from forage.llm.testing import StreamLLM
from forage.runtime.driver import run

DOC = Document("d1", "Ivo Maren", "Ivo Maren was born in Selby Cove. He worked as a ferryman.")
RESULT = result_text(DOC.title, DOC.text, max_words=60).strip()
TWO_TASKS = [
    "Task 1: Who built the Old Mill?",
    "Search: Old Mill builder",
    "Conclusion 1: Ivo Maren",
    "Task 2: Where was Ivo Maren born?",
    "Search: Ivo Maren born",
    "Conclusion 2: Selby Cove",
    "Answer: Selby Cove",
]
QUESTION = "Where was the builder of the Old Mill born?"


def _on(stream, thread, question, *, tools, budget):
    """Run ``thread`` through the driver on a backend whose KV stream is ``stream``."""
    return asyncio.run(run(thread, question, llm=StreamLLM(stream), tools=tools, budget=budget))


def _run(script, budget=None, **settings):
    stream = ScriptedLineStream(script)
    thread = Thread(**settings)
    b = budget or Budget(100_000)
    answer = _on(stream, thread, QUESTION, tools=StaticSearch([DOC]), budget=b)
    return answer, stream, b


def _question_part(text: str) -> str:
    return text[text.rindex("Question: ") :]


# -- the format ----------------------------------------------------------------------------------


def test_parse_line_is_tolerant_of_case_spaces_and_numbers():
    assert parse_line("task 2 :  Who is it? ") == Line("task", "Who is it?", 2)
    assert parse_line("Search:query words") == Line("search", "query words", None)
    assert parse_line("ANSWER: Selby Cove") == Line("answer", "Selby Cove", None)
    assert parse_line("The answer is Selby Cove") is None
    assert parse_line("") is None


def test_allowed_next_walks_task_search_conclusion_answer():
    caps = {"max_tasks": 2, "max_searches": 2}
    assert allowed_next(Position(), **caps) == ("task",)
    assert allowed_next(Position(0, True, 0), **caps) == ("search",)
    assert allowed_next(Position(0, True, 1), **caps) == ("conclusion", "search")
    assert allowed_next(Position(0, True, 2), **caps) == ("conclusion",)
    assert allowed_next(Position(1, False, 0), **caps) == ("task", "answer")
    assert allowed_next(Position(2, False, 0), **caps) == ("answer",)
    assert allowed_next(Position(0, True, 0, wrap_up=True), **caps) == ("conclusion",)
    assert allowed_next(Position(1, False, 0, wrap_up=True), **caps) == ("answer",)


def test_check_line_flags_cut_off_empty_and_nested_lines():
    assert check_line("task", "Who?", "length") is not None
    assert check_line("conclusion", "  ", "stop") is not None
    assert check_line("task", "Search: x", "stop") is not None
    assert check_line("conclusion", "Selby Cove", "stop") is None


def test_preamble_renders_exemplars_pruned_and_full(snapshot):
    examples = ExemplarSet.generic().multi_hop
    pruned = render_preamble(examples, view="pruned")
    full = render_preamble(examples, view="full")
    assert "Search:" not in pruned and "Result:" not in pruned
    assert full.count("Search:") == sum(len(e.steps) for e in examples)
    snapshot("thread_preamble_pruned", pruned)
    snapshot("thread_preamble_full", full)


# -- the loop, scripted ----------------------------------------------------------------------------


def test_pruned_results_leave_the_stream_and_stay_without_pruning():
    pruned, s1, _ = _run(TWO_TASKS, prune=True)
    kept, s2, _ = _run(TWO_TASKS, prune=False)
    assert pruned.text == kept.text == "Selby Cove"
    assert RESULT not in _question_part(s1.text())
    assert "Search:" not in _question_part(s1.text())
    assert _question_part(s2.text()).count(RESULT) == 2
    # Task and conclusion lines stay either way.
    for line in ("Task 2: Where was Ivo Maren born?", "Conclusion 1: Ivo Maren"):
        assert line in s1.text() and line in s2.text()
    assert pruned.meta["peak_kv_cells"] < kept.meta["peak_kv_cells"]
    assert pruned.meta["final_kv_cells"] < kept.meta["final_kv_cells"]
    assert [t.pruned for t in pruned.task.subtasks] == [True, True]
    assert [t.pruned for t in kept.task.subtasks] == [False, False]


def test_keep_last_one_keeps_the_latest_finished_task_verbatim():
    script = TWO_TASKS[:-1] + [
        "Task 3: What is Selby Cove known for?",
        "Search: Selby Cove",
        "Conclusion 3: fishing",
        "Answer: fishing",
    ]
    answer, stream, _ = _run(script, keep_last=1)
    tail = _question_part(stream.text())
    assert tail.count(RESULT) == 1
    assert tail.index("Task 3:") < tail.index(RESULT) < tail.index("Conclusion 3:")
    assert [t.pruned for t in answer.task.subtasks] == [True, True, False]


def test_the_exemplars_are_never_pruned():
    _, stream, _ = _run(TWO_TASKS, exemplar_view="full")
    assert stream.text().startswith(render_preamble(ExemplarSet.generic().multi_hop, view="full"))


def test_malformed_lines_are_dropped_charged_and_counted():
    script = TWO_TASKS[:2] + ["Conclusion 1:", ("Conclusion 1: Ivo Maren and then", "length")]
    script += TWO_TASKS[2:]
    answer, stream, budget = _run(script)
    assert answer.text == "Selby Cove"
    assert answer.meta["malformed_lines"] == 2
    assert "Conclusion 1:\n" not in stream.text() and "and then" not in stream.text()
    llm_entries = [e for e in budget.ledger.entries if e.kind == "llm"]
    assert len(llm_entries) == answer.meta["lines"] == len(script)
    dropped = [a for a in answer.task.walk() for a in a.actions if "malformed" in a.meta]
    assert len(dropped) == 2


def test_free_lines_of_the_wrong_kind_are_dropped():
    script = ["Task 1: Who built the Old Mill?", "Answer: too early", "Banana",
              *TWO_TASKS[1:]]  # fmt: skip
    answer, stream, _ = _run(script, constrained=False)
    assert answer.text == "Selby Cove"
    assert answer.meta["malformed_lines"] == 2
    assert "too early" not in stream.text() and "Banana" not in stream.text()


def test_a_stream_of_garbage_ends_within_the_line_cap():
    answer, _, _ = _run(["nonsense"] * 100, constrained=False, max_lines=10)
    assert answer.exhausted and answer.text == ""
    assert answer.meta["lines"] <= 10 + 4
    assert answer.meta["wrapped_up"] is not None


def test_task_cap_forces_the_answer():
    script = TWO_TASKS[:3] + ["Answer: Ivo Maren"]
    answer, stream, _ = _run(script, max_tasks=1)
    assert stream.offered[-1] == ("Answer:",)
    assert answer.text == "Ivo Maren" and not answer.exhausted


def test_line_cap_forces_a_conclusion_then_the_answer():
    script = ["Task 1: Who built the Old Mill?", "Search: mill", "Search: old mill",
              "Conclusion 1: Ivo Maren", "Answer: Ivo Maren"]  # fmt: skip
    answer, stream, _ = _run(script, max_lines=5, max_searches=3)
    assert stream.offered[-2:] == [("Conclusion 1:",), ("Answer:",)]
    assert answer.meta["wrapped_up"] == "lines" and answer.meta["lines"] == 5
    assert answer.text == "Ivo Maren"


def _three_task_policy(options):
    """Plays a model that searches once per task, concludes, and answers after three tasks."""
    first = options[0]
    if first.startswith("Task"):
        return f"{first} What is step {first.split()[1][:-1]}?"
    if "Search:" in options and not first.startswith("Conclusion"):
        return "Search: step"
    if first.startswith("Conclusion"):
        return f"{first} value {first.split()[1][:-1]}"
    return "Answer: final"


def test_a_tight_budget_forces_the_answer_with_fewer_tasks():
    # (That no budget is ever overspent is one property test for every strategy:
    # tests/runtime/test_budget_property.py.)
    full = _on(ScriptedLineStream(_three_task_policy), Thread(max_tasks=3), QUESTION,
               tools=StaticSearch([DOC]), budget=Budget(100_000))
    assert full.text == "final" and len(full.task.subtasks) == 3 and not full.exhausted
    full_cost = full.meta["ledger"]["compute"]
    forced = []
    for fraction in np.linspace(0.05, 1.0, 20):
        limit = float(full_cost * fraction)
        stream = ScriptedLineStream(_three_task_policy)
        budget = Budget(limit)
        answer = _on(stream, Thread(max_tasks=3), QUESTION, tools=StaticSearch([DOC]),
                     budget=budget)
        if answer.meta["wrapped_up"] == "budget" and not answer.exhausted:
            assert stream.offered[-1] == ("Answer:",)
            forced.append(len(answer.task.subtasks))
    assert any(1 <= n < 3 for n in forced)  # some budgets bought fewer tasks and still answered


def test_a_budget_too_small_for_any_line_answers_empty_and_exhausted():
    answer, _, budget = _run(TWO_TASKS, budget=Budget(5))
    assert answer.exhausted and answer.text == ""
    assert budget.spent <= 5
    assert budget.ledger.refused_calls >= 1


def test_metering_counts_reused_cells_as_cached_prompt_tokens():
    answer, stream, budget = _run(TWO_TASKS, prune=False)
    llm = [e.usage for e in budget.ledger.entries if e.kind == "llm"]
    assert sum(u.completion_tokens for u in llm) == answer.meta["generated_tokens"]
    fresh = sum(u.prompt_tokens - u.cached_prompt_tokens for u in llm)
    assert fresh + answer.meta["generated_tokens"] == answer.meta["evaluated_tokens"]
    assert answer.meta["evaluated_tokens"] == stream.evaluated
    assert llm[0].cached_prompt_tokens == 0
    # Each later call re-reads exactly the cells the stream held when it started.
    assert all(b.cached_prompt_tokens >= a.prompt_tokens for a, b in zip(llm, llm[1:]))
    assert sum(e.usage.search_calls for e in budget.ledger.entries) == 2


# -- the real KV stream ----------------------------------------------------------------------------

# Max abs logit difference allowed between the pruned stream and a fresh replay (logits range over
# about +-30); the reasons are those of tests/llm/test_kv_surgery.py:
CASES = [
    # SmolLM2: full attention; re-rotated keys equal keys computed in place (measured 0.0).
    ("smollm2", 1e-3),
    # Gemma: sliding-window + global layers, two RoPE bases; re-rotating cached keys in reduced
    # precision may round differently from computing them in place (0.011 seen on another build).
    ("gemma", 0.05),
]


class _RecordingStream(KVLineStream):
    """Records every evaluation call, and cuts the record where the stream is cut, so a fresh
    stream can replay exactly the calls whose cells survived (same batches, same positions)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[list[int]] = []

    def eval(self, tokens):
        super().eval(tokens)
        self.calls.append(list(tokens))

    def remove(self, start, end):
        assert end == len(self), "with re-encoding every cut runs to the end of the stream"
        super().remove(start, end)
        kept, n = [], 0
        for call in self.calls:
            if n >= start:
                break
            kept.append(call[: start - n])
            n += len(kept[-1])
        self.calls = kept


def _kv_run(llm, *, prune, reencode=True):
    stream = _RecordingStream(llm.token_stream(), capacity=1024, script=TWO_TASKS)
    answer = _on(stream, Thread(prune=prune, reencode=reencode, reuse_preamble=False), QUESTION,
                 tools=StaticSearch([DOC]), budget=Budget(100_000))
    return answer, stream, stream.tokens, stream.token_stream.logits()


def _without(tokens, spans):
    out = list(tokens)
    for span in spans:
        n = len(span)
        at = next(i for i in range(len(out) - n + 1) if out[i : i + n] == span)
        del out[at : at + n]
    return out


@pytest.mark.embedded  # loads the model named by the parameter
@pytest.mark.parametrize("model,tol", CASES)
def test_kv_pruning_equals_a_fresh_evaluation_of_the_pruned_stream(request, model, tol):
    llm = request.getfixturevalue(model)
    pruned, s1, pruned_tokens, pruned_logits = _kv_run(llm, prune=True)
    text = s1.decode(pruned_tokens)
    _, s2, full_tokens, full_logits = _kv_run(llm, prune=False)
    assert RESULT not in _question_part(text)
    assert _question_part(s2.decode(full_tokens)).count(RESULT) == 2

    # The stream's tokens are the unpruned stream's minus each task's Search and Result lines.
    enc = s2.encode
    spans = [
        enc("Search:") + enc(" Old Mill builder\n") + enc(RESULT + "\n"),
        enc("Search:") + enc(" Ivo Maren born\n") + enc(RESULT + "\n"),
    ]
    assert pruned_tokens == _without(full_tokens, spans)

    # A fresh stream that replays the surviving evaluation calls (never seeing the pruned lines)
    # ends with the same logits. (Replaying the calls matters for Gemma: on this build, evaluating
    # the same tokens in different batches moves its logits by up to ~1.0 with no KV edit at all.)
    replay = llm.token_stream()
    for call in s1.calls:
        replay.eval(call)
    assert replay.tokens == pruned_tokens
    fresh_logits = replay.logits()
    diff = float(np.max(np.abs(pruned_logits - fresh_logits)))
    assert diff <= tol, f"{model}: max abs logit difference {diff}"
    assert int(np.argmax(pruned_logits)) == int(np.argmax(fresh_logits))
    control = float(np.max(np.abs(full_logits - fresh_logits)))
    assert control > 10 * tol, f"{model}: the pruned lines should matter ({control})"
    assert pruned.meta["peak_kv_cells"] < len(full_tokens)


def test_plain_kv_surgery_without_reencoding_keeps_the_same_tokens(gemma):
    exact, _, reencoded, _ = _kv_run(gemma, prune=True, reencode=True)
    plain = Thread(prune=True, reencode=False, reuse_preamble=False)
    stream = KVLineStream(gemma.token_stream(), capacity=1024, script=TWO_TASKS)
    answer = _on(stream, plain, QUESTION, tools=StaticSearch([DOC]), budget=Budget(100_000))
    assert stream.tokens == reencoded
    # Without re-encoding nothing is evaluated twice.
    assert answer.meta["evaluated_tokens"] < exact.meta["evaluated_tokens"]


def test_gemma_writes_a_bounded_pruned_thread_on_a_world_question(gemma, small_world):
    from forage.search.bm25 import BM25Search

    q = next(q for q in small_world.test if q.hops == 2)
    budget = Budget(3000)
    thread = Thread(exemplars=ExemplarSet.from_dev(small_world.dev), max_tasks=2, max_lines=10,
                    line_tokens=16, answer_tokens=12)  # fmt: skip
    stream = KVLineStream(gemma.token_stream(), capacity=1024)
    answer = _on(stream, thread, q, tools=BM25Search(small_world.corpus), budget=budget)
    assert answer.meta["lines"] <= 10 + 4
    assert_competent(answer, budget, q.text)
    assert 1 <= len(answer.task.subtasks) <= 2
    assert answer.meta["peak_kv_cells"] >= answer.meta["final_kv_cells"]
    finished = [t for t in answer.task.subtasks if t.status == "done"]
    assert all(t.pruned and t.conclusion for t in finished)
    if not answer.exhausted:  # every task was concluded, so every result left the stream
        assert "Result:" not in _question_part(stream.text())


def test_a_backend_that_cannot_edit_its_kv_cache_is_refused_with_a_clear_error():
    from forage.core.errors import ConfigError
    from forage.llm.testing import ScriptedLLM
    from forage.search.testing import StaticSearch
    from forage.hierarchy.thread import Thread

    with pytest.raises(ConfigError, match="KV cache"):
        asyncio.run(run(Thread(), "q", llm=ScriptedLLM([]), tools=StaticSearch([]), budget=Budget(100)))
