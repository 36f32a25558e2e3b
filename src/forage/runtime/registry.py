"""Strategies by name, built-ins registered the same way as plug-ins.

Each entry names a class (``module:Class``), the one budget knob that maps to its natural parameter
(passages read, iterations, samples, rollouts, ...) and a default ladder of knob values for sweeps.
Plug-ins register through the ``forage.strategies`` entry-point group with a ``StrategySpec``.

Not here: running strategies (``driver``) or sweeping them (``forage.eval``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from forage.core.errors import ConfigError
from forage.runtime.base import Strategy
from forage.prompts.exemplars import ExemplarSet


@dataclass(frozen=True)
class StrategySpec:
    name: str
    target: str  # "package.module:Class"
    knob: str  # the constructor argument the budget knob sets
    ladder: tuple[int, ...]  # knob values from cheap to expensive
    description: str
    options: tuple[tuple[str, Any], ...] = ()  # fixed settings that make this variant

    def build(self, knob: int | None = None, *, exemplars: ExemplarSet | None = None,
              **kwargs: Any) -> Strategy:
        module, _, attr = self.target.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        kwargs = {**dict(self.options), "name": self.name, **kwargs}
        if knob is not None:
            kwargs[self.knob] = knob
        if exemplars is not None:
            kwargs["exemplars"] = exemplars
        return cls(**kwargs)  # type: ignore[no-any-return]


BUILTINS: tuple[StrategySpec, ...] = (
    StrategySpec("rag", "forage.strategies.rag:RAG", "k", (1, 2, 3, 5),
                 "retrieve once, read the top-k passages, answer"),
    StrategySpec("direct", "forage.strategies.direct:Direct", "max_tokens", (24,),
                 "closed-book: answer from the question alone"),
    StrategySpec("cot", "forage.strategies.direct:CoT", "max_tokens", (48, 96, 192),
                 "closed-book chain of thought, capped at max_tokens reasoning tokens"),
    StrategySpec("react", "forage.strategies.react:ReAct", "max_iterations", (2, 4, 6, 8),
                 "flat ReAct: Thought/Action/Observation, whole transcript in context"),
    StrategySpec("ircot", "forage.strategies.ircot:IRCoT", "max_steps", (2, 3, 4, 6),
                 "IRCoT: retrieve with each chain-of-thought sentence"),
    StrategySpec("self_ask", "forage.strategies.self_ask:SelfAsk", "max_follow_ups", (1, 2, 3, 4),
                 "Self-Ask with search: follow-up questions answered by search + reader"),
    StrategySpec("tree", "forage.hierarchy.tree:Tree", "attempts", (1, 2, 3, 4),
                 "hierarchical: plan sub-questions, execute each under its own budget, "
                 "forget finished branches, synthesise from conclusions"),
    StrategySpec("tree_stepwise", "forage.hierarchy.tree:Tree", "attempts", (1, 2, 3, 4),
                 "hierarchical, planning one sub-question at a time from the conclusions so far",
                 options=(("planning", "stepwise"),)),
    StrategySpec("tree_marginal", "forage.hierarchy.tree:Tree", "attempts", (1, 2, 3, 4),
                 "hierarchical, executors stop reading when a passage gains less than the run's "
                 "average rate (the marginal-value rule)", options=(("marginal_stop", True),)),
    StrategySpec("tree_oracle", "forage.hierarchy.tree:Tree", "attempts", (1, 2, 3, 4),
                 "ablation: the hierarchy executing the dataset's gold decomposition (isolates "
                 "executors and memory from planning; not a method for unseen questions)",
                 options=(("planning", "oracle"),)),
    StrategySpec("thread", "forage.hierarchy.thread:Thread", "max_tasks", (2, 4, 6, 8),
                 "single-stream (TIMRUN-style): the model writes the task tree in one KV stream; "
                 "finished tasks' searches and results are cut from the cache (embedded only)"),
    StrategySpec("self_consistency", "forage.strategies.sampling:SelfConsistency", "n", (1, 3, 5, 9),
                 "retrieve once, sample the reader N times, majority vote"),
    StrategySpec("adaptive_consistency", "forage.strategies.sampling:SelfConsistency", "n",
                 (1, 3, 5, 9),
                 "self-consistency that stops sampling once the majority is settled at 0.95 "
                 "(Adaptive-Consistency); N is the cap",
                 options=(("adaptive", True),)),
    StrategySpec("best_of_n", "forage.strategies.sampling:BestOfN", "n", (1, 3, 5, 9),
                 "retrieve once, sample N answers, pick the one the model verifies best"),
    StrategySpec("best_of_n_logprob", "forage.strategies.sampling:BestOfNLogprob", "n",
                 (1, 3, 5, 9),
                 "retrieve once, sample N answers, pick the highest mean token logprob"),
    StrategySpec("best_of_n_adaptive", "forage.strategies.sampling:BestOfN", "n", (1, 3, 5, 9),
                 "best-of-N whose sampling stops once the vote is settled at 0.95, then verifies "
                 "the distinct answers drawn; N is the cap",
                 options=(("adaptive", True),)),
    StrategySpec("best_of_n_logprob_adaptive", "forage.strategies.sampling:BestOfNLogprob", "n",
                 (1, 3, 5, 9),
                 "best-of-N by mean token logprob, sampling stopped once the vote is settled; "
                 "N is the cap",
                 options=(("adaptive", True),)),
    StrategySpec("revision", "forage.strategies.revision:Revision", "rounds", (1, 2, 3, 4),
                 "answer, critique against the passage, search again and revise"),
    StrategySpec("mcts", "forage.strategies.mcts:MCTS", "simulations", (2, 4, 8, 16),
                 "MCTS/UCT over search and answer actions, verifier-valued leaves"),
)


def available() -> dict[str, StrategySpec]:
    """Built-in and plug-in strategies by name."""
    specs = {s.name: s for s in BUILTINS}
    for ep in entry_points(group="forage.strategies"):
        spec = ep.load()
        if not isinstance(spec, StrategySpec):
            raise ConfigError(f"plug-in {ep.name} is not a StrategySpec")
        specs[spec.name] = spec
    return specs


def get(name: str) -> StrategySpec:
    specs = available()
    if name not in specs:
        raise ConfigError(f"unknown strategy {name!r}: choose from {', '.join(sorted(specs))}")
    return specs[name]
