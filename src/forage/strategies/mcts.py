"""Tree search: MCTS with UCT over search and answer actions, valued by a model verifier.

A state is the evidence gathered so far (the passages of the searches on the path from the root).
Actions are ``search(query)``, with queries proposed by the model (``forage.prompts.queries``),
and ``answer``. Each simulation:

1. **selects** a path from the root by UCT (``ucb``; an unvisited child is tried first),
2. **expands** the node it stops at when its search actions have not been proposed yet: the model
   samples ``branching`` next queries (the root also searches the question itself, like RAG),
3. **evaluates** a new search node: runs its search, reads an answer from the node's evidence (the
   ``answer`` action, a terminal leaf) and scores it with the verifier's probability of "yes"
   (``forage.prompts.verifier``): that is the model-estimated value of the node,
4. **backpropagates** the value along the path (``backpropagate``).

A revisited answer leaf costs nothing (its value is known). The knob is ``simulations``; each
simulation is a subtask of the trace. The final answer is the answer leaf with the highest mean
value (ties: more visits, then the one found first, ``best_answer``). On ``BudgetExhausted`` the
search stops and answers with the best leaf found so far (or an answer that was read but could not
be verified, when there is nothing better).

The completion profile reads and verifies only the newest passage of a path (tiny readers do worse
with more text); the chat profile reads all the evidence on the path.

Not here: prompts (``forage.prompts``: ``reader``, ``queries``, ``verifier``); any I/O outside
the ``steps`` generator.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from forage.core.errors import BudgetExhausted, ConfigError
from forage.core.text import normalize_answer
from forage.core.trace import Task
from forage.core.types import Hit
from forage.prompts.exemplars import ExemplarSet
from forage.prompts.queries import clean_query, query_prompt
from forage.prompts.reader import STOP, clean_answer, flat_reader_prompt, passage_text
from forage.prompts.render import render
from forage.prompts.verifier import choice_yes_score, verify_prompt
from forage.runtime.base import Answer, Context, Generate, Search, Steps

log = logging.getLogger(__name__)

NodeKind = Literal["root", "search", "answer"]


@dataclass(eq=False)
class Node:
    """A node of the search tree: the root, a search action (with its hits) or an answer leaf."""

    kind: NodeKind
    parent: Node | None = None
    query: str = ""
    hits: tuple[Hit, ...] = ()
    answer: str = ""
    children: list[Node] = field(default_factory=list)
    visits: int = 0
    value_sum: float = 0.0
    expanded: bool = False  # search actions proposed (search and root nodes)

    @property
    def depth(self) -> int:
        """Searches on the path from the root to this node, this one included."""
        d, node = 0, self
        while node is not None:
            d += node.kind == "search"
            node = node.parent
        return d

    @property
    def mean(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0

    def evidence(self) -> tuple[Hit, ...]:
        """The hits of every search on the path, root first."""
        out: list[Hit] = []
        node: Node | None = self
        while node is not None:
            out[:0] = node.hits
            node = node.parent
        return tuple(out)

    def queries(self) -> tuple[str, ...]:
        """Queries already searched on the path and by this node's children."""
        qs = [c.query for c in self.children if c.kind == "search"]
        node: Node | None = self
        while node is not None:
            if node.kind == "search":
                qs.append(node.query)
            node = node.parent
        return tuple(qs)

    def add(self, kind: NodeKind, **kwargs: object) -> Node:
        child = Node(kind, parent=self, **kwargs)  # type: ignore[arg-type]
        self.children.append(child)
        return child

    def leaves(self) -> list[Node]:
        """Every answer leaf below this node, in creation order (depth first)."""
        out = [self] if self.kind == "answer" else []
        for c in self.children:
            out += c.leaves()
        return out


# -- pure tree arithmetic ----------------------------------------------------------------------


def ucb(value_sum: float, visits: int, parent_visits: int, c: float) -> float:
    """UCT score: ``value_sum / visits + c * sqrt(ln(parent_visits) / visits)``; an unvisited
    child scores ``inf`` so every child is tried once before any is tried twice."""
    if visits == 0:
        return math.inf
    return value_sum / visits + c * math.sqrt(math.log(max(parent_visits, 1)) / visits)


def select_child(node: Node, c: float) -> Node:
    """The child with the highest UCT score; ties go to the child created first."""
    if not node.children:
        raise ValueError("a node without children has nothing to select")
    scores = [ucb(ch.value_sum, ch.visits, node.visits, c) for ch in node.children]
    return node.children[max(range(len(scores)), key=lambda i: (scores[i], -i))]


def select(root: Node, c: float, max_depth: int) -> list[Node]:
    """The path a simulation follows: descend by UCT until an answer leaf, a node never
    evaluated, a node whose search actions are still to be proposed, or a dead end."""
    path = [root]
    node = root
    while True:
        if node.kind == "answer":
            return path
        if node is not root and node.visits == 0:
            return path
        if needs_expansion(node, max_depth):
            return path
        if not node.children:
            return path
        node = select_child(node, c)
        path.append(node)


def needs_expansion(node: Node, max_depth: int) -> bool:
    return node.kind != "answer" and not node.expanded and node.depth < max_depth


def backpropagate(path: Sequence[Node], value: float) -> None:
    """Add one visit and ``value`` to every node of ``path``."""
    for node in path:
        node.visits += 1
        node.value_sum += value


def best_answer(leaves: Sequence[Node]) -> Node | None:
    """The non-empty answer leaf with the highest mean value; ties: more visits, then earliest."""
    valued = [(i, n) for i, n in enumerate(leaves) if n.visits > 0 and normalize_answer(n.answer)]
    if not valued:
        return None
    return max(valued, key=lambda p: (p[1].mean, p[1].visits, -p[0]))[1]


# -- the strategy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MCTS:
    simulations: int = 8
    branching: int = 2  # queries an expansion proposes (the root also searches the question)
    max_depth: int = 3  # searches on one path
    c: float = 1.0
    k: int = 1  # passages a search adds to the evidence
    search_k: int = 3  # hits fetched; the first ``k`` not already on the path are kept
    temperature: float = 0.8  # for sampling diverse queries
    logprobs: bool = True  # leaf values from P(yes) when the backend returns logprobs
    max_tokens: int = 24
    exemplars: ExemplarSet = field(default_factory=ExemplarSet.generic)
    name: str = "mcts"

    def __post_init__(self) -> None:
        if self.simulations < 1 or self.branching < 0 or self.max_depth < 1 or self.k < 1:
            raise ConfigError("simulations, max_depth and k must be >= 1, branching >= 0")

    def steps(self, ctx: Context) -> Steps:
        root = Node("root")
        unverified: list[str] = []
        exhausted = False
        for i in range(self.simulations):
            task = ctx.root.add(f"simulation {i + 1}")
            path = select(root, self.c, self.max_depth)
            leaf = path[-1]
            try:
                if leaf.kind == "answer":
                    value = leaf.mean
                elif leaf is not root and leaf.visits == 0:
                    value = yield from self._evaluate(ctx, task, path, unverified)
                elif needs_expansion(leaf, self.max_depth):
                    added = yield from self._expand(ctx, task, leaf)
                    if not added:
                        value = leaf.mean
                    else:
                        child = select_child(leaf, self.c)
                        path.append(child)
                        value = yield from self._evaluate(ctx, task, path, unverified)
                else:  # a dead end: nothing left to try below it
                    value = leaf.mean
            except BudgetExhausted:
                task.finish("budget exhausted", status="exhausted")
                exhausted = True
                break
            backpropagate(path, value)
            steps = " > ".join(_label(n) for n in path[1:])
            task.finish(f"{steps} = {value:.3f}", confidence=value)
        best = best_answer(root.leaves())
        log.debug("mcts: %d leaves, best %r", len(root.leaves()), best.answer if best else None)
        meta = {
            "simulations": sum(1 for t in ctx.root.subtasks if t.status == "done"),
            "leaves": [(n.answer, round(n.mean, 4), n.visits) for n in root.leaves()],
        }
        if best is not None:
            return Answer(text=best.answer, task=ctx.root, confidence=best.mean,
                          sources=tuple(dict.fromkeys(h.document.title for h in best.evidence())),
                          exhausted=exhausted, meta=meta)
        fallback = next((a for a in unverified if a), "")
        return Answer(text=fallback, task=ctx.root, exhausted=exhausted, meta=meta)

    def _expand(self, ctx: Context, task: Task, node: Node) -> Steps:
        """Propose search actions for ``node``; returns how many new ones were added."""
        node.expanded = True
        proposals: list[str] = [ctx.question.text] if node.kind == "root" else []
        if self.branching:
            spec = query_prompt(
                ctx.question.text, self._known(ctx, node), exemplars=self.exemplars,
                n=self.branching, temperature=self.temperature,
                seed=ctx.seed + len(_all_nodes(node)),
            )
            response = yield Generate(render(spec, ctx.profile), task=task, label="propose")
            proposals += [clean_query(c.text) for c in response.choices]
        have = {normalize_answer(q) for q in node.queries()}
        added = 0
        for q in proposals:
            key = normalize_answer(q)
            if key and key not in have:
                have.add(key)
                node.add("search", query=q)
                added += 1
        return added

    def _evaluate(self, ctx: Context, task: Task, path: list[Node], unverified: list[str]) -> Steps:
        """Run a new search node's search, read its answer leaf and value it; extends ``path``
        with the leaf. Raises ``BudgetExhausted`` when a step is refused."""
        node = path[-1]
        if not node.hits:
            hits = yield Search(node.query, k=self.search_k, task=task)
            on_path = {h.document.id for h in (node.parent.evidence() if node.parent else ())}
            node.hits = tuple([h for h in hits if h.document.id not in on_path][: self.k])
        if not node.hits:  # the search found nothing new: a dead end worth nothing
            node.expanded = True
            return 0.0
        evidence = self._reading(ctx, node)
        spec = flat_reader_prompt(ctx.question.text, evidence, exemplars=self.exemplars.reader,
                                  max_tokens=self.max_tokens, seed=ctx.seed, chat_stop=STOP)
        read = yield Generate(render(spec, ctx.profile), task=task, label="answer")
        text = clean_answer(read.text)
        unverified.append(text)
        leaf = node.add("answer", answer=text)
        path.append(leaf)
        if not normalize_answer(text):
            return 0.0
        spec = verify_prompt(ctx.question.text, passage_text(evidence), text,
                             exemplars=self.exemplars, seed=ctx.seed,
                             logprobs=self.logprobs and ctx.capabilities.supports_logprobs)
        verdict = yield Generate(render(spec, ctx.profile), task=task, label="value")
        return choice_yes_score(verdict.choices[0])

    def _reading(self, ctx: Context, node: Node) -> tuple[Hit, ...]:
        """The passages read at ``node``: all evidence (chat), the newest passages (completion)."""
        if ctx.profile == "chat":
            return node.evidence()
        return node.hits

    def _known(self, ctx: Context, node: Node) -> str:
        return passage_text(self._reading(ctx, node))


def _all_nodes(node: Node) -> list[Node]:
    root = node
    while root.parent is not None:
        root = root.parent
    out, stack = [], [root]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(n.children)
    return out


def _label(node: Node) -> str:
    return f"search({node.query!r})" if node.kind == "search" else f"answer({node.answer!r})"
