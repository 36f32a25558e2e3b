"""The two renderers, and training pairs rendered through the same code as inference prompts."""

from __future__ import annotations

import pytest

from forage.core.errors import ConfigError
from forage.core.types import Document, Hit
from forage.llm.base import Message
from forage.prompts.render import preamble, render, render_example
from forage.prompts.spec import (
    Block,
    Chat,
    Generation,
    PromptSpec,
    continue_text,
    passage_text,
    titled,
)

SHOT = Block(("Passage: P1", "Question: Q1"), "Answer:", "A1")
SPEC = PromptSpec(
    instruction="Answer briefly.",
    shots=(SHOT, Block(("Passage: P2", "Question: Q2"), "Answer:", "A2")),
    query=Block(("Passage: P", "Question: Q"), "Answer:"),
    stop=("\n",),
    generation=Generation(max_tokens=7, temperature=0.5, seed=3, n=2, logprobs=True,
                          grammar='root ::= "x"'),
    chat=Chat(hint="Reply with the answer only.", heading="Examples:", note="Rejected: none",
              ask="Answer now.", stop=("\n\n",), max_tokens=11),
)


def test_completion_is_instruction_shots_and_query_in_blank_line_separated_blocks():
    r = render(SPEC, "completion")
    assert r.prompt == (
        "Answer briefly.\n\n"
        "Passage: P1\nQuestion: Q1\nAnswer: A1\n\n"
        "Passage: P2\nQuestion: Q2\nAnswer: A2\n\n"
        "Passage: P\nQuestion: Q\nAnswer:"
    )
    assert r.prompt == preamble(SPEC) + "Passage: P\nQuestion: Q\nAnswer:"
    assert (r.stop, r.max_tokens, r.temperature, r.seed, r.n, r.logprobs, r.grammar) == (
        ("\n",), 7, 0.5, 3, 2, True, 'root ::= "x"')


def test_chat_puts_instruction_hint_and_shots_in_system_and_the_query_in_one_user_message():
    r = render(SPEC, "chat")
    assert r.messages == (
        Message(role="system", content="Answer briefly. Reply with the answer only.\n\nExamples:\n"
                "Passage: P1\nQuestion: Q1\nAnswer: A1\n\nPassage: P2\nQuestion: Q2\nAnswer: A2"),
        Message(role="user", content="Passage: P\nQuestion: Q\nRejected: none\n\nAnswer now."),
    )
    assert (r.stop, r.max_tokens, r.temperature, r.seed, r.n) == (("\n\n",), 11, 0.5, 3, 2)


def test_chat_shows_the_cue_when_asked_or_when_the_query_holds_partial_text():
    plain = PromptSpec("I.", (), Block(("Q: q",), "A:"))
    assert render(plain, "chat").messages[1].content == "Q: q"
    cued = PromptSpec("I.", (), Block(("Q: q",), "A:"), chat=Chat(show_cue=True))
    assert render(cued, "chat").messages[1].content == "Q: q\nA:"
    partial = PromptSpec("I.", (), Block(("Q: q",), "A:", "So far."))
    assert render(partial, "chat").messages[1].content == "Q: q\nA: So far."


def test_no_instruction_and_no_shots_leave_no_empty_blocks():
    spec = PromptSpec("", (), Block(("Q: q",), "A:"), chat=Chat(hint="Hint."))
    assert render(spec, "completion").prompt == "Q: q\nA:"
    assert render(spec, "chat").messages[0].content == "Hint."


def test_an_unknown_profile_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown prompt profile"):
        render(SPEC, "base")


@pytest.mark.parametrize("profile", ["completion", "chat"])
def test_a_training_pair_has_exactly_the_inference_request(profile):
    for spec in (SPEC, PromptSpec("", (SHOT,), Block(("Q: q",), "", "Yes.\n"), stop=("\n",))):
        assert render_example(spec, "Harrowgate", profile).request == render(spec, profile)


@pytest.mark.parametrize(
    "query",
    [
        Block(("Passage: P", "Question: Q"), "Answer:"),  # the usual: continue after the cue
        Block(("Q: q",), "A:", "Ada founded it. So the answer is:"),  # after a partial line
        Block(("Question: q", "Needed: Yes.", "Follow up: who?"), ""),  # at a fresh line
    ],
)
def test_prompt_plus_completion_is_the_query_written_as_a_shot_then_the_stop(query):
    spec = PromptSpec("Answer briefly.", (SHOT,), query, stop=("\n",))
    pair = render_example(spec, "Harrowgate", "completion")
    as_shot = PromptSpec("Answer briefly.", (SHOT,), query.answered("Harrowgate"))
    assert pair.text() == render(as_shot, "completion").prompt + "\n"
    assert pair.text().startswith(render(spec, "completion").prompt)
    assert query.answered("Harrowgate").render().endswith("Harrowgate")


def test_a_chat_training_pair_is_the_conversation_with_the_target_as_the_reply():
    pair = render_example(SPEC, "Harrowgate", "chat")
    assert pair.completion == "Harrowgate"
    assert pair.messages() == (*render(SPEC, "chat").messages,
                               Message(role="assistant", content="Harrowgate"))
    with pytest.raises(ConfigError):
        pair.text()
    with pytest.raises(ConfigError):
        render_example(SPEC, "x", "completion").messages()


def test_continue_text_adds_a_space_only_after_text_that_does_not_end_a_line():
    assert continue_text("", "x") == "x"
    assert continue_text("So the answer is:", "x") == "So the answer is: x"
    assert continue_text("Follow up: a\n", "x") == "Follow up: a\nx"


def test_titled_is_the_one_passage_format():
    assert titled("Ada Prell", "Born in 1921.") == "Ada Prell: Born in 1921."
    assert titled("", "Born in 1921.") == "Born in 1921."
    assert titled("Ada Prell", "Ada Prell was born.", unless_named=True) == "Ada Prell was born."
    assert titled("Ada Prell", "She was born.", unless_named=True) == "Ada Prell: She was born."
    hits = [Hit(Document("1", "T", "one two  three"), 1.0, 0), Hit(Document("2", "", "four"), 0.5, 1)]
    assert passage_text(hits, max_words=2) == "T: one two four"
