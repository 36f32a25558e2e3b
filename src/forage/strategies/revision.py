"""Sequential revision: answer, critique, revise (with a new search), until the critique accepts.

The first answer is single-retrieval RAG (search the question, read the top ``k`` passages). Each
revision round then critiques the current answer with the verifier prompt ("Does the passage
support the answer to the question?", ``forage.prompts.verifier``). If the critique accepts
(the verdict is "yes", or undecided), the answer stands and the run stops early. If it rejects,
the strategy revises: with ``research=True`` (CRITIC-style, Gou et al. 2023) the model writes a new
search query from the question and the passage that failed (``forage.prompts.queries``), the
first passage not read before is taken from that search, and the answer is read again; with
``research=False`` the next-ranked passages of the first search are read instead. The chat profile
revises with every passage seen so far and the rejected answers in view; the completion profile
reads only the new passage (tiny readers do worse with more text).

The knob is ``rounds``, the maximum number of critique-and-revise rounds. When rounds run out the
last revision is the answer; on ``BudgetExhausted`` the answer read last is returned, marked
exhausted. Each round is a subtask of the trace.

Not here: the verifier and query prompts (``forage.prompts``: ``verifier``, ``queries``),
parallel sampling.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from forage.core.errors import BudgetExhausted, ConfigError
from forage.core.trace import Task
from forage.core.types import Hit
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.queries import clean_query, query_prompt
from forage.prompts.reader import STOP, clean_answer, flat_reader_prompt, passage_text
from forage.prompts.render import render
from forage.prompts.spec import PromptSpec
from forage.prompts.verifier import verify_prompt, yes_score
from forage.runtime.base import Answer, Context, Generate, Search, Steps

log = logging.getLogger(__name__)


def revise_prompt(
    question: str,
    hits: Sequence[Hit],
    rejected: Sequence[str],
    *,
    exemplars: ExemplarSet,
    max_tokens: int = 24,
    seed: int | None = None,
) -> PromptSpec:
    """The reader prompt for a (re)reading over ``hits``, one line in both profiles; a chat model
    also sees the answers rejected so far (a tiny completion model reads worse with more text)."""
    note = ""
    if rejected:
        note = ("Answers already judged unsupported by the passages: "
                + ("; ".join(a for a in rejected if a) or "none"))
    return flat_reader_prompt(question, hits, exemplars=exemplars.reader, max_tokens=max_tokens,
                              seed=seed, chat_stop=STOP, chat_note=note)


@dataclass(frozen=True)
class Revision:
    rounds: int = 2
    k: int = 1
    research: bool = True
    search_k: int = 3  # hits fetched by a revision's search; the first unseen ones are read
    max_tokens: int = 24
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "revision"

    def __post_init__(self) -> None:
        if self.rounds < 0 or self.k < 1 or self.search_k < 1:
            raise ConfigError("rounds must be >= 0, k and search_k >= 1")

    def steps(self, ctx: Context) -> Steps:
        question = ctx.question.text
        first_k = self.k if self.research else self.k * (self.rounds + 1)
        try:
            ranking = list((yield Search(question, k=first_k)))
        except BudgetExhausted:
            return Answer(text="", task=ctx.root, exhausted=True)
        window = ranking[: self.k]
        seen = list(window)
        try:
            spec = revise_prompt(question, window, (), exemplars=self.exemplars,
                                 max_tokens=self.max_tokens, seed=ctx.seed)
            response = yield Generate(render(spec, ctx.profile), label="answer")
        except BudgetExhausted:
            return self._answer(ctx, "", seen, exhausted=True)
        answer = clean_answer(response.text)
        rejected: list[str] = []
        verdicts: list[float] = []
        for r in range(1, self.rounds + 1):
            sub = ctx.root.add(f"revision {r}: critique {answer!r}")
            try:
                spec = verify_prompt(question, passage_text(window), answer,
                                     exemplars=self.exemplars, seed=ctx.seed)
                verdict = yield Generate(render(spec, ctx.profile), task=sub, label="critique")
                score = yes_score(verdict.text) if answer else 0.0
                verdicts.append(score)
                if score >= 0.5:
                    sub.finish(f"accepted {answer!r}", confidence=score)
                    return self._answer(ctx, answer, seen, verdicts=verdicts, accepted=True)
                rejected.append(answer)
                log.debug("revision %d: critique rejected %r", r, answer)
                new = yield from self._next_window(ctx, sub, question, window, ranking, seen, r)
                if not new:
                    sub.finish("no unread passage", status="failed")
                    break
                window = new
                seen += new
                spec = revise_prompt(question, seen if ctx.profile == "chat" else window,
                                     rejected, exemplars=self.exemplars,
                                     max_tokens=self.max_tokens, seed=ctx.seed)
                response = yield Generate(render(spec, ctx.profile), task=sub, label="revise")
            except BudgetExhausted:
                sub.finish(answer, status="exhausted")
                return self._answer(ctx, answer, seen, verdicts=verdicts, exhausted=True)
            revised = clean_answer(response.text)
            if revised:
                answer = revised
            sub.finish(answer)
        return self._answer(ctx, answer, seen, verdicts=verdicts)

    def _next_window(self, ctx: Context, sub: Task, question: str, window: Sequence[Hit],
                     ranking: Sequence[Hit], seen: Sequence[Hit], r: int) -> Steps:
        """The passages a revision reads: from a new search (``research``) or the first search's
        next-ranked ones. May raise ``BudgetExhausted``."""
        if not self.research:
            return list(ranking[r * self.k : (r + 1) * self.k])
        spec = query_prompt(question, passage_text(window), exemplars=self.exemplars,
                            seed=ctx.seed)
        response = yield Generate(render(spec, ctx.profile), task=sub, label="query")
        query = clean_query(response.text) or question
        hits = yield Search(query, k=self.search_k, task=sub)
        ids = {h.document.id for h in seen}
        unseen = [h for h in hits if h.document.id not in ids]
        return unseen[: self.k]

    @staticmethod
    def _answer(ctx: Context, text: str, seen: Sequence[Hit], *, verdicts: Sequence[float] = (),
                accepted: bool = False, exhausted: bool = False) -> Answer:
        return Answer(
            text=text,
            task=ctx.root,
            sources=tuple(dict.fromkeys(h.document.title for h in seen)),
            confidence=verdicts[-1] if accepted and verdicts else None,
            exhausted=exhausted,
            meta={"critiques": list(verdicts), "accepted": accepted},
        )
