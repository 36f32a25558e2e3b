"""Rendered snapshots of the hierarchy's prompts (planner, stepwise planner, executor's reader,
synthesiser) in both profiles, and of the single stream's start."""

from __future__ import annotations

import pytest

from forage.hierarchy.thread_format import render_preamble, stream_prompt
from forage.hierarchy.tree_prompts import (
    Memory,
    next_question_prompt,
    planner_prompt,
    reader_prompt,
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
    reader = render(reader_prompt("In which town was Ada Prell born?",
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
    reader = render(reader_prompt("Who?", "T: p", MEMORY, EX, logprobs=True), "completion")
    assert reader.logprobs and reader.stop == ("\n",)
    # the pruned memory: goals, verbatim internals and conclusions, never anything else
    assert reader.prompt.endswith("\n".join([*MEMORY.lines(), "Passage: T: p", "Question: Who?",
                                             "Answer:"]))


def test_stream_start_is_the_preamble_then_the_question_line(snapshot):
    start = render(stream_prompt(EX.multi_hop, Q, view="pruned"), "completion").prompt
    assert start == render_preamble(EX.multi_hop, view="pruned") + f"Question: {Q}\n"
    snapshot("thread_stream_start", start)
