"""Every prompt builder writes its shots and its query in one format, so a gold answer rendered as a
training example (``render_example``) is exactly what the shots show a model writing."""

from __future__ import annotations

import pytest

from forage.core.types import Document, Hit
from forage.hierarchy.thread_format import stream_prompt
from forage.hierarchy.tree_prompts import (
    Memory,
    memory_reader_prompt,
    next_question_prompt,
    planner_prompt,
    synthesiser_prompt,
)
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.queries import query_prompt
from forage.prompts.reader import flat_reader_prompt
from forage.prompts.render import render, render_example
from forage.prompts.spec import PromptSpec
from forage.prompts.verifier import verify_prompt
from forage.strategies.direct import cot_prompt, cot_text, direct_prompt
from forage.strategies.ircot import ircot_prompt

EX = ExemplarSet.generic()
E = EX.multi_hop[0]  # In which town was the founder of the Lantern Society born? -> Harrowgate
R = EX.reader[0]
FIRST, SECOND = E.resolved_steps()


def _cases() -> list[tuple[str, PromptSpec, str, int]]:
    """(name, a spec whose query is shot ``i``'s own question, that shot's answer, i)."""
    passage = Hit(Document("r", "", R.passage), 1.0, 0)
    step1 = Hit(Document("s1", FIRST.title, FIRST.evidence), 1.0, 0)
    step2 = Hit(Document("s2", SECOND.title, SECOND.evidence), 1.0, 0)
    plan = "Who founded the Lantern Society?\n2. In which town was #1 born?"
    facts = [(s.question, s.answer) for s in (FIRST, SECOND)]
    verdict_passage = f"{R.passage}"
    return [
        ("reader", flat_reader_prompt(R.question, [passage], exemplars=EX.reader), R.answer, 0),
        ("direct", direct_prompt(E.question, EX.multi_hop), E.answer, 0),
        ("cot", cot_prompt(E.question, EX.multi_hop), cot_text(E), 0),
        ("ircot", ircot_prompt(E.question, [step1, step2], [], EX.multi_hop), cot_text(E), 0),
        ("query", query_prompt(E.question, "", exemplars=EX), FIRST.question, 0),
        ("verify", verify_prompt(R.question, verdict_passage, R.answer, exemplars=EX), "Yes", 0),
        ("planner", planner_prompt(E.question, EX), plan, 0),
        ("tree_reader", memory_reader_prompt(FIRST.question, f"{FIRST.title}: {FIRST.evidence}",
                                           Memory(E.question), EX), FIRST.answer, 0),
        ("synthesiser", synthesiser_prompt(E.question, facts, EX), E.answer, 0),
        ("next_question", next_question_prompt(Memory(E.question), EX), FIRST.question, 0),
        ("stream", stream_prompt(EX.multi_hop, E.question),
         stream_prompt(EX.multi_hop).shots[0].render().split("\n", 1)[1], 0),
    ]


@pytest.mark.parametrize("name, spec, target, i", _cases(), ids=[c[0] for c in _cases()])
def test_a_gold_answer_renders_exactly_as_the_shot_of_the_same_example(name, spec, target, i):
    pair = render_example(spec, target, "completion")
    written = pair.text().removesuffix(spec.stop[0] if spec.stop else "")
    assert written.endswith("\n\n" + spec.shots[i].render()), name
    assert pair.request == render(spec, "completion")
    chat = render_example(spec, target, "chat")
    assert chat.request == render(spec, "chat")
    assert chat.messages()[-1].content == target
