"""Sequential revision: answer, critique, revise (with a new search), until the critique accepts.

The first answer is single-retrieval RAG (search the question, read the top ``k`` passages). Each
revision round then critiques the current answer with the verifier prompt ("Does the passage
support the answer to the question?", ``forage.strategies.verifier``). If the critique accepts
(the verdict is "yes", or undecided), the answer stands and the run stops early. If it rejects,
the strategy revises: with ``research=True`` (CRITIC-style, Gou et al. 2023) the model writes a new
search query from the question and the passage that failed (``forage.strategies.queries``), the
first passage not read before is taken from that search, and the answer is read again; with
``research=False`` the next-ranked passages of the first search are read instead. The chat profile
revises with every passage seen so far and the rejected answers in view; the completion profile
reads only the new passage (tiny readers do worse with more text).

The knob is ``rounds``, the maximum number of critique-and-revise rounds. When rounds run out the
last revision is the answer; on ``BudgetExhausted`` the answer read last is returned, marked
exhausted. Each round is a subtask of the trace.

Not here: the verifier and query prompts (``verifier``, ``queries``), parallel sampling.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from forage.core.errors import BudgetExhausted, ConfigError
from forage.core.trace import Task
from forage.core.types import Hit
from forage.llm.base import LLMRequest, Message
from forage.runtime.base import Answer, Context, Generate, Search, Steps
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.common import (
    READER_INSTRUCTION,
    STOP,
    clean_answer,
    passage_text,
    reader_request,
)
from forage.strategies.queries import clean_query, query_request
from forage.strategies.verifier import verify_request, yes_score

log = logging.getLogger(__name__)


def revise_request(
    question: str,
    hits: Sequence[Hit],
    rejected: Sequence[str],
    *,
    profile: str,
    exemplars: ExemplarSet,
    max_tokens: int = 24,
    seed: int | None = None,
) -> LLMRequest:
    """The reader prompt for a (re)reading. Chat: every passage seen and the rejected answers;
    completion, or nothing rejected yet: the plain reader prompt over ``hits``."""
    if profile != "chat" or not rejected:
        return reader_request(question, hits, profile=profile, exemplars=exemplars.reader,
                              max_tokens=max_tokens, seed=seed).model_copy(update={"stop": STOP})
    shots = "\n\n".join(
        f"Passage: {e.passage}\nQuestion: {e.question}\nAnswer: {e.answer}"
        for e in exemplars.reader
    )
    rejected_line = "; ".join(a for a in rejected if a) or "none"
    return LLMRequest(
        messages=(
            Message(role="system",
                    content=f"{READER_INSTRUCTION} Reply with the answer only.\n\n{shots}"),
            Message(
                role="user",
                content=(
                    f"Passage: {passage_text(hits)}\nQuestion: {question}\n"
                    f"Answers already judged unsupported by the passages: {rejected_line}"
                ),
            ),
        ),
        max_tokens=max_tokens,
        temperature=0.0,
        seed=seed,
        stop=STOP,
    )


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
            response = yield Generate(
                revise_request(question, window, (), profile=ctx.profile, exemplars=self.exemplars,
                               max_tokens=self.max_tokens, seed=ctx.seed),
                label="answer",
            )
        except BudgetExhausted:
            return self._answer(ctx, "", seen, exhausted=True)
        answer = clean_answer(response.text)
        rejected: list[str] = []
        verdicts: list[float] = []
        for r in range(1, self.rounds + 1):
            sub = ctx.root.add(f"revision {r}: critique {answer!r}")
            try:
                verdict = yield Generate(
                    verify_request(question, passage_text(window), answer, profile=ctx.profile,
                                   exemplars=self.exemplars, seed=ctx.seed),
                    task=sub, label="critique",
                )
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
                response = yield Generate(
                    revise_request(question, seen if ctx.profile == "chat" else window, rejected,
                                   profile=ctx.profile, exemplars=self.exemplars,
                                   max_tokens=self.max_tokens, seed=ctx.seed),
                    task=sub, label="revise",
                )
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
        response = yield Generate(
            query_request(question, passage_text(window), profile=ctx.profile,
                          exemplars=self.exemplars, seed=ctx.seed),
            task=sub, label="query",
        )
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
