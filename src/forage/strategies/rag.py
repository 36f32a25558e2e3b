"""Single-retrieval RAG: search the question once, read the top-k passages, answer.

The budget knob is ``k``, the number of passages the reader sees (for tiny readers more passages
often hurt, so ``k`` is itself a budget decision). Not here: multi-step retrieval (``ircot``,
``react``) or sampling (``sampling``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from forage.core.errors import BudgetExhausted
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.reader import clean_answer, flat_reader_prompt
from forage.prompts.render import render
from forage.runtime.base import Answer, Context, Generate, Search, Steps


@dataclass(frozen=True)
class RAG:
    k: int = 1
    max_tokens: int = 24
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "rag"

    def steps(self, ctx: Context) -> Steps:
        question = ctx.question.text
        try:
            hits = yield Search(question, k=self.k)
        except BudgetExhausted:
            return Answer(text="", task=ctx.root, exhausted=True)
        spec = flat_reader_prompt(question, hits, exemplars=self.exemplars.reader,
                                  max_tokens=self.max_tokens, seed=ctx.seed)
        request = render(spec, ctx.profile)
        sources = tuple(h.document.title for h in hits)
        try:
            response = yield Generate(request, label="read")
        except BudgetExhausted:
            return Answer(text="", task=ctx.root, sources=sources, exhausted=True)
        return Answer(text=clean_answer(response.text), task=ctx.root, sources=sources)
