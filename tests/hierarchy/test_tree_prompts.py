"""Rendered snapshots of the hierarchy's prompts (planner, stepwise planner, executor's reader,
synthesiser) in both profiles, and of the single stream's start; reading a planner's reply."""

from __future__ import annotations

import pytest

from forage.hierarchy.thread_format import render_preamble, stream_prompt
from forage.hierarchy.tree_prompts import (
    Memory,
    memory_reader_prompt,
    next_question_prompt,
    parse_json_plan,
    parse_next_question,
    parse_numbered_plan,
    parse_plan,
    parse_reader_answer,
    planner_prompt,
    synthesiser_prompt,
)
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.render import render

EX = ExemplarSet.generic()
Q = "Where was the founder of the Lantern Society born?"
# A run two levels down, one fact known, one finished subtask kept verbatim by the buffer.
MEMORY = Memory(
    Q,
    path=("Who founded the Lantern Society?",),
    facts=(("Who founded the Lantern Society?", "Ada Prell"),),
    verbatim=("Search: Lantern Society founder",
              "Passage: Lantern Society: The Lantern Society was founded by Ada Prell."),
)


@pytest.mark.parametrize("profile", ["completion", "chat"])
def test_tree_prompts_snapshot(snapshot, profile):
    planner = render(planner_prompt(Q, EX), profile)
    reader = render(memory_reader_prompt("In which town was Ada Prell born?",
                                         "Ada Prell: Ada Prell was born in Harrowgate.", MEMORY, EX),
                    profile)
    facts = [("Who founded the Lantern Society?", "Ada Prell"),
             ("In which town was Ada Prell born?", "Harrowgate")]
    synthesiser = render(synthesiser_prompt(Q, facts, EX), profile)
    stepwise = render(next_question_prompt(MEMORY, EX), profile)
    snapshot(f"tree_planner_{profile}", planner.text_for_counting())
    snapshot(f"tree_reader_{profile}", reader.text_for_counting())
    snapshot(f"tree_synthesiser_{profile}", synthesiser.text_for_counting())
    snapshot(f"tree_next_question_{profile}", stepwise.text_for_counting())


def test_tree_prompts_keep_their_settings_per_profile():
    completion = render(planner_prompt(Q, EX, max_tokens=50), "completion")
    chat = render(planner_prompt(Q, EX, max_tokens=50), "chat")
    assert completion.prompt.endswith(f"Question: {Q}\n1.")
    assert completion.stop == ("\n\n", "Question:") and completion.max_tokens == 50
    assert chat.stop == () and chat.max_tokens == 100  # a JSON plan takes more tokens
    reader = render(memory_reader_prompt("Who?", "T: p", MEMORY, EX, logprobs=True), "completion")
    assert reader.logprobs and reader.stop == ("\n",)
    # the pruned memory: goals, verbatim internals and conclusions, never anything else
    assert reader.prompt.endswith("\n".join([*MEMORY.lines(), "Passage: T: p", "Question: Who?",
                                             "Answer:"]))


def test_stream_start_is_the_preamble_then_the_question_line(snapshot):
    start = render(stream_prompt(EX.multi_hop, Q, view="pruned"), "completion").prompt
    assert start == render_preamble(EX.multi_hop, view="pruned") + f"Question: {Q}\n"
    snapshot("thread_stream_start", start)


def test_numbered_plan_with_placeholders_becomes_a_dag():
    plan = parse_numbered_plan(
        "1. Who founded the Lantern Society?\n2. Where was #1 born?\n3. Who directed Gull?\n"
        "4. Was #2 older than #3?\n\nQuestion: next"
    )
    assert [s.depends_on for s in plan] == [(), (1,), (), (2, 3)]


def test_parsing_stops_at_the_first_line_that_is_not_a_step_and_drops_duplicates():
    plan = parse_numbered_plan("1. Who is A?\n2. Who is A?\n3. Who is B?\nAnswer: x\n4. Who is C?")
    assert [s.question for s in plan] == ["Who is A?", "Who is B?"]


def test_self_and_forward_references_are_read_as_the_previous_step():
    (a, b) = parse_numbered_plan("1. Who wrote #1 The Gull?\n2. When was #3 built?")
    assert a.question == "Who wrote The Gull?" and a.depends_on == ()
    assert b.question == "When was #1 built?" and b.depends_on == (1,)


def test_lines_that_are_not_questions_are_dropped():
    plan = parse_numbered_plan("1. 100\n2. Who wrote Gull?\n3. x")
    assert [s.question for s in plan] == ["Who wrote Gull?"]


def test_json_plan_tolerates_surrounding_text():
    plan = parse_json_plan('Sure! {"steps": ["Who founded X?", "Where was #1 born?"]} done')
    assert [s.question for s in plan] == ["Who founded X?", "Where was #1 born?"]
    assert plan[1].depends_on == (1,)


def test_json_plan_falls_back_to_numbered_lines():
    plan = parse_json_plan("1. Who wrote it?\n2. When was #1 born?")
    assert [s.question for s in plan] == ["Who wrote it?", "When was #1 born?"]


def test_a_completion_plan_continues_the_cue_and_a_chat_plan_is_json():
    completion = parse_plan("Who founded X?\n2. Where was #1 born?\n\nQuestion: y", "completion")
    assert [s.question for s in completion] == ["Who founded X?", "Where was #1 born?"]
    chat = parse_plan('{"steps": ["Who founded X?"]}', "chat")
    assert [s.question for s in chat] == ["Who founded X?"]


def test_unknown_is_no_answer_and_none_is_no_next_question():
    assert parse_reader_answer(" Unknown.\n") == ""
    assert parse_reader_answer("Answer: Harrowgate.") == "Harrowgate"
    assert parse_next_question("none") == "" and parse_next_question("None yet.") == ""
    assert parse_next_question("Where was Ada Prell born?\nKnown:") == "Where was Ada Prell born?"
