"""Reader calls from a bench's call cache become training examples labelled from gold support,
and nothing of an evaluation split gets in that way."""

from __future__ import annotations

from pathlib import Path

import pytest

from forage.data.world import WorldSettings, generate_world
from forage.hierarchy.tree_prompts import Memory, memory_reader_prompt
from forage.llm.base import Choice, LLMRequest, LLMResponse, TokenUsage
from forage.llm.cache import CallCache
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.render import render
from forage.prompts.spec import titled
from forage.train.calls import parse_reader_query, reader_calls, relabel
from forage.train.gold import Gold, Passage, world_records
from forage.train.guard import eval_guard
from forage.train.mixture import MixtureSettings, build_mixture

ROOT = Path(__file__).resolve().parents[2]
TRAIN_WORLD = WorldSettings(seed=1001, entities=150, questions=40, hops=(2, 2))
EVAL_WORLD = WorldSettings(seed=1, entities=150, questions=40, hops=(2, 2))


def _bridge(records: list[Gold]) -> Gold:
    return next(g for g in records if len(g.hops) == 2 and g.readable_hops()
                and g.answer.lower() not in g.hops[0].passage.text.lower())  # type: ignore[union-attr]


def _read(question: str, passage, main: str) -> str:
    spec = memory_reader_prompt(question, titled(passage.title, passage.text), Memory(main),
                                ExemplarSet.generic())
    prompt = render(spec, "completion").prompt
    assert prompt is not None
    return prompt


def _cache(path: Path, prompts: list[str]) -> Path:
    cache = CallCache(path)
    reply = LLMResponse(choices=(Choice(text=" whatever the model said"),),
                        usage=TokenUsage(prompt_tokens=1, completion_tokens=1), model="m")
    for p in prompts:
        cache.put("m", LLMRequest(prompt=p), reply)
    cache.put("m", LLMRequest(prompt="Plan the question.\nQuestion: x\nSteps:"), reply)
    cache.close()
    return path


@pytest.fixture(scope="module")
def train_records() -> list[Gold]:
    return world_records(TRAIN_WORLD)


def test_reader_calls_are_labelled_from_gold_not_from_the_reply(train_records, tmp_path):
    g = _bridge(train_records)
    first, last = g.hops[0].passage, g.hops[1].passage
    prompts = [_read(g.question, first, g.question), _read(g.question, last, g.question)]
    calls = list(reader_calls(_cache(tmp_path / "cache.sqlite", prompts)))
    assert sorted(c.prompt for c in calls) == sorted(prompts)  # the planner call is not a read
    examples, _ = relabel(calls, train_records)
    by_prompt = {e.prompt: e.completion for e in examples}
    assert by_prompt[prompts[0]] == " unknown\n"  # a first-hop passage does not settle it
    assert by_prompt[prompts[1]] == f" {g.answer}\n"
    assert all(e.format == "calls" and e.record == g.id for e in examples)


def test_evaluation_questions_in_a_cache_never_become_examples(train_records, tmp_path):
    world = generate_world(EVAL_WORLD)  # an evaluation world (world_records refuses its seed)
    q = next(q for q in world.questions if len(q.decomposition) == 2)
    doc = world.documents[q.support[-1][0]]
    g = _bridge(train_records)
    prompts = [_read(q.text, Passage(doc.title, doc.document.text), q.text),
               _read(g.question, g.hops[1].passage, g.question)]
    cache = _cache(tmp_path / "cache.sqlite", prompts)
    examples, dropped = relabel(list(reader_calls(cache)), train_records)
    assert [e.prompt for e in examples] == [prompts[1]]
    assert dropped["no training record"] == 1
    # Through the mixture, the guard sees every example as well.
    mixture = build_mixture(MixtureSettings(per_format=1, formats=("plan",), world_seeds=(1001,),
                                            world_entities=150, world_questions=40,
                                            world_hops=(2, 2), eval_dir=str(ROOT / "data"),
                                            calls=(str(cache),)), guard=eval_guard(ROOT / "data"))
    taken = [e for e in mixture.examples if e.format == "calls"]
    assert [e.prompt for e in taken] == [prompts[1]]
    assert q.text not in "".join(e.prompt for e in mixture.examples)


def test_a_sub_question_call_takes_its_hops_answer(train_records, tmp_path):
    from forage.train.examples import _resolved

    g = _bridge(train_records)
    second = _resolved(g)[1]
    prompt = _read(second.question, g.hops[1].passage, g.question)
    call = parse_reader_query(prompt)
    assert call is not None and call.main == g.question and call.question == second.question
    examples, _ = relabel([call], train_records)
    assert [e.completion for e in examples] == [f" {second.answer}\n"]
