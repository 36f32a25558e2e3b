"""Compute accounting: what was spent (``Usage``, ``Ledger``), what it costs (``CostModel``) and
what may still be spent (``Budget``).

Every LLM call and every search is *reserved* before it runs and *committed* after it ran. A
reservation is an upper bound on the call's cost: the prompt is counted exactly before the call and
``max_tokens`` is clipped to what the budget can still pay for, so a committed call never costs more
than was reserved. A call that cannot fit at all is refused: the refusal is written to the ledger
and ``BudgetExhausted`` is raised; the call never runs.

The one metering pattern, used by every caller (``forage.llm.metered``: ``complete`` for requests
and ``write_line`` for the single-stream runtime's lines; ``forage.search.base.metered_search``)::

    with budget.reserve_llm(prompt_tokens, max_tokens, label=...) as call:
        ...                                  # run the call with call.max_tokens
        entry = call.commit(usage)           # the ledger entry of exactly this call

If the body raises, or ends without committing, the reservation is released (nothing charged).
The committed ``Entry`` is returned to the caller, so a call's cost is never read back from the
shared ledger by position (concurrent calls interleave there).

Budgets form a tree. ``split`` carves a child budget out of what the parent can still spend; while
the child is open its unspent share is held by the parent; ``close`` ends the child and whatever it
did not spend flows back; ``top_up`` moves units the parent has available into an open child (a
finished sibling's refund). Usage committed in a child is added to every ancestor, so the root's
usage is the total of the tree.

Default weights of the cost model (compute units):

=====================  ======
completion token        1.0
prompt token            0.25
cached prompt token     0.05   (a prompt token the run itself put in the KV cache earlier, still
                               there: only the single-stream runtime's own cells; see
                               ``forage.llm.metered`` for why separate calls are charged cold)
search call             50.0
tool text token         0.0    (the text is paid for when a model reads it, as prompt tokens)
=====================  ======

Not here: running calls (``forage.llm.metered``), timing, or any I/O.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

from forage.core.errors import BudgetExhausted, ConfigError

_EPS = 1e-9


@dataclass(frozen=True)
class Usage:
    """Counters of spent compute. ``prompt_tokens`` includes ``cached_prompt_tokens``.

    ``llm_seconds`` is the models' own time (for the embedded model, from when the call got the
    model until it finished); ``llm_wait_seconds`` is the time calls spent waiting for the model
    before that (another call held it). Records written before the wait was kept apart have no
    ``llm_wait_seconds`` (read as 0) and count the waits in ``llm_seconds``."""

    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_calls: int = 0
    search_calls: int = 0
    tool_tokens: int = 0
    llm_seconds: float = 0.0
    tool_seconds: float = 0.0
    llm_wait_seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __sub__(self, other: Usage) -> Usage:
        return Usage(**{f.name: getattr(self, f.name) - getattr(other, f.name) for f in fields(self)})

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def seconds(self) -> float:
        return self.llm_seconds + self.tool_seconds

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Usage:
        return cls(**{k: v for k, v in data.items() if k in {f.name for f in fields(cls)}})


@dataclass(frozen=True)
class CostModel:
    """Maps usage counters to one scalar, compute units. Linear, so cost(a + b) = cost(a) + cost(b)."""

    completion_token: float = 1.0
    prompt_token: float = 0.25
    cached_prompt_token: float = 0.05
    search_call: float = 50.0
    tool_token: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ConfigError(f"cost weight {f.name} must be >= 0")

    def cost(self, usage: Usage) -> float:
        fresh = usage.prompt_tokens - usage.cached_prompt_tokens
        return (
            fresh * self.prompt_token
            + usage.cached_prompt_tokens * self.cached_prompt_token
            + usage.completion_tokens * self.completion_token
            + usage.search_calls * self.search_call
            + usage.tool_tokens * self.tool_token
        )


@dataclass(frozen=True)
class Caps:
    """Optional hard caps per counter, on top of the compute cap. ``seconds`` is a deadline: no
    call *starts* once the budget's LLM + tool seconds reach it (a running call is not cut)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    search_calls: int | None = None
    seconds: float | None = None

    def room(self, used: Usage) -> dict[str, float]:
        """What each capped counter can still take, given ``used`` (spent + reserved)."""
        room: dict[str, float] = {}
        if self.prompt_tokens is not None:
            room["prompt_tokens"] = self.prompt_tokens - used.prompt_tokens
        if self.completion_tokens is not None:
            room["completion_tokens"] = self.completion_tokens - used.completion_tokens
        if self.total_tokens is not None:
            room["total_tokens"] = self.total_tokens - used.total_tokens
        if self.search_calls is not None:
            room["search_calls"] = self.search_calls - used.search_calls
        if self.seconds is not None:
            room["seconds"] = self.seconds - used.seconds
        return room


EntryKind = Literal["llm", "search", "refused"]


@dataclass(frozen=True)
class Entry:
    """One metered call, as the ledger keeps it."""

    kind: EntryKind
    usage: Usage
    cost: float
    scope: str
    label: str = ""
    replayed: bool = False
    estimated: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "usage": self.usage.to_dict(),
            "cost": self.cost,
            "scope": self.scope,
            "label": self.label,
            "replayed": self.replayed,
            "estimated": self.estimated,
        }


@dataclass
class Ledger:
    """Append-only record of every call of a run, refused ones included."""

    cost_model: CostModel = field(default_factory=CostModel)
    entries: list[Entry] = field(default_factory=list)

    def append(self, entry: Entry) -> None:
        self.entries.append(entry)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for e in self.entries:
            total = total + e.usage
        return total

    @property
    def compute(self) -> float:
        """Compute units of every call that ran, replayed ones at their original cost."""
        return sum(e.cost for e in self.entries)

    @property
    def replayed_calls(self) -> int:
        return sum(1 for e in self.entries if e.replayed)

    @property
    def refused_calls(self) -> int:
        return sum(1 for e in self.entries if e.kind == "refused")

    def summary(self) -> dict[str, float]:
        return {
            **self.usage.to_dict(),
            "compute": self.compute,
            "replayed_calls": self.replayed_calls,
            "refused_calls": self.refused_calls,
        }


_ids = itertools.count()


@dataclass
class Reservation:
    """Compute set aside for one call. ``max_tokens`` is the clipped completion allowance.

    A context manager: ``commit`` inside the ``with`` block; a block that raises or ends without
    committing releases the reservation. ``entry`` is the committed ledger entry."""

    budget: Budget
    estimate: Usage
    cost: float
    label: str
    max_tokens: int | None = None
    id: int = field(default_factory=lambda: next(_ids))
    open: bool = True
    entry: Entry | None = None

    def commit(self, actual: Usage, *, replayed: bool = False, estimated: bool = False) -> Entry:
        """Settle with what the call actually used; returns this call's ledger entry."""
        return self.budget.commit(self, actual, replayed=replayed, estimated=estimated)

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.open:
            self.budget.release(self)


class Budget:
    """A hard cap in compute units (and optional per-counter caps), with child budgets.

    ``compute=math.inf`` means unlimited compute (caps may still apply).
    """

    def __init__(
        self,
        compute: float = math.inf,
        *,
        caps: Caps | None = None,
        cost_model: CostModel | None = None,
        ledger: Ledger | None = None,
        name: str = "root",
        _parent: Budget | None = None,
    ) -> None:
        if compute < 0 or math.isnan(compute):
            raise ConfigError(f"budget must be >= 0 compute units, got {compute}")
        self.limit = float(compute)
        self.caps = caps or Caps()
        self.ledger = ledger if ledger is not None else Ledger(cost_model or CostModel())
        self.cost_model = cost_model or self.ledger.cost_model
        self.name = name
        self.parent = _parent
        self.usage = Usage()  # committed, including descendants
        self._reserved = Usage()  # outstanding reservations, including descendants
        self._reserved_units = 0.0
        self._children: list[Budget] = []
        self._n_children = 0
        self.closed = False

    # -- views ---------------------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self.name if self.parent is None else f"{self.parent.path}/{self.name}"

    @property
    def spent(self) -> float:
        """Compute units committed here and in every descendant."""
        return self.cost_model.cost(self.usage)

    @property
    def held(self) -> float:
        """What this budget could still spend, as seen from its parent (never negative)."""
        return max(0.0, self.limit - self.spent - self._reserved_units)

    @property
    def available(self) -> float:
        """Compute units that a new reservation or child here may take now."""
        kids = sum(c.held for c in self._children)
        return self.limit - self.spent - self._reserved_units - kids

    @property
    def children(self) -> tuple[Budget, ...]:
        return tuple(self._children)

    def _chain(self) -> list[Budget]:
        node: Budget | None = self
        chain = []
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    # -- reserving -----------------------------------------------------------------------------

    def refuse(self, label: str, why: str, counter: str) -> BudgetExhausted:
        """Write a refused call to the ledger and return the error to raise (the call never ran).
        Also for refusals decided outside the budget, e.g. a prompt longer than the context."""
        self.ledger.append(Entry("refused", Usage(), 0.0, self.path, label))
        return BudgetExhausted(f"budget {self.path}: {why}", counter=counter)

    def _cap_room(self, estimate: Usage) -> dict[str, float]:
        """Smallest room left per capped counter along the chain, with ``estimate`` included."""
        room: dict[str, float] = {}
        for node in self._chain():
            for key, left in node.caps.room(node.usage + node._reserved + estimate).items():
                room[key] = min(room.get(key, math.inf), left)
        return room

    def reserve(self, estimate: Usage, *, label: str = "") -> Reservation:
        """Set aside ``estimate`` (an upper bound of the call's usage) or refuse."""
        if self.closed:
            raise ConfigError(f"budget {self.path} is closed")
        cost = self.cost_model.cost(estimate)
        if cost > self.available + _EPS:
            raise self.refuse(
                label, f"call needs {cost:.1f} units, {max(self.available, 0):.1f} left", "compute"
            )
        for key, left in self._cap_room(estimate).items():
            if key == "seconds":
                if left + estimate.seconds <= 0:
                    raise self.refuse(label, "time cap reached", key)
            elif left < 0:
                raise self.refuse(label, f"{key} cap reached", key)
        return self._hold(estimate, cost, label)

    def _hold(self, estimate: Usage, cost: float, label: str) -> Reservation:
        for node in self._chain():
            node._reserved = node._reserved + estimate
            node._reserved_units += cost
        return Reservation(self, estimate, cost, label)

    def reserve_llm(
        self,
        prompt_tokens: int,
        max_tokens: int,
        *,
        cached_prompt_tokens: int = 0,
        min_tokens: int = 1,
        n: int = 1,
        label: str = "",
    ) -> Reservation:
        """Reserve an LLM call whose prompt is ``prompt_tokens`` long and that returns ``n``
        completions. ``max_tokens`` (per completion) is clipped to what the budget can pay for; if
        fewer than ``min_tokens`` fit, the call is refused."""
        if self.closed:
            raise ConfigError(f"budget {self.path} is closed")
        prompt = Usage(
            prompt_tokens=prompt_tokens, cached_prompt_tokens=cached_prompt_tokens, llm_calls=1
        )
        w = self.cost_model.completion_token
        left = self.available - self.cost_model.cost(prompt)
        affordable = (left + _EPS) / (w * n) if w > 0 else math.inf
        room = self._cap_room(prompt)
        if room.get("prompt_tokens", 0) < 0:
            raise self.refuse(label, "prompt_tokens cap reached", "prompt_tokens")
        if room.get("seconds", 1) <= 0:
            raise self.refuse(label, "time cap reached", "seconds")
        for key in ("completion_tokens", "total_tokens"):
            affordable = min(affordable, room.get(key, math.inf) // n)
        clipped = math.floor(min(float(max_tokens), affordable))
        if clipped < min_tokens:
            raise self.refuse(
                label,
                f"cannot pay for a {prompt_tokens}-token prompt and {min_tokens} completion "
                f"token(s) ({max(self.available, 0):.1f} units left)",
                "compute" if left < min_tokens * w else "tokens",
            )
        estimate = prompt + Usage(completion_tokens=clipped * n)
        reservation = self._hold(estimate, self.cost_model.cost(estimate), label)
        reservation.max_tokens = clipped
        return reservation

    def reserve_search(self, *, label: str = "search") -> Reservation:
        return self.reserve(Usage(search_calls=1), label=label)

    def _unhold(self, reservation: Reservation) -> None:
        if not reservation.open:
            raise ConfigError("reservation already settled")
        if reservation.budget is not self:
            raise ConfigError("reservation belongs to another budget")
        reservation.open = False
        for node in self._chain():
            node._reserved = node._reserved - reservation.estimate
            node._reserved_units -= reservation.cost

    def commit(
        self,
        reservation: Reservation,
        actual: Usage,
        *,
        replayed: bool = False,
        estimated: bool = False,
    ) -> Entry:
        """Settle ``reservation`` with what the call actually used, and write it to the ledger."""
        self._unhold(reservation)
        for node in self._chain():
            node.usage = node.usage + actual
        kind: EntryKind = "search" if actual.search_calls and not actual.llm_calls else "llm"
        entry = Entry(
            kind,
            actual,
            self.cost_model.cost(actual),
            self.path,
            reservation.label,
            replayed=replayed,
            estimated=estimated,
        )
        self.ledger.append(entry)
        reservation.entry = entry
        return entry

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back unused (the call failed before using anything)."""
        self._unhold(reservation)

    # -- the tree ------------------------------------------------------------------------------

    def split(self, compute: float, *, caps: Caps | None = None, name: str | None = None) -> Budget:
        """Carve a child budget of ``compute`` units out of what is available here."""
        if self.closed:
            raise ConfigError(f"budget {self.path} is closed")
        if compute < 0 or compute > self.available + _EPS:
            raise BudgetExhausted(
                f"budget {self.path}: cannot carve {compute:.1f} units, "
                f"{max(self.available, 0):.1f} available"
            )
        self._n_children += 1
        child = Budget(
            min(compute, max(self.available, 0.0)),
            caps=caps,
            cost_model=self.cost_model,
            ledger=self.ledger,
            name=name or str(self._n_children),
            _parent=self,
        )
        self._children.append(child)
        return child

    def share(self, fraction: float, **kwargs: object) -> Budget:
        """A child budget of ``fraction`` of what is available here now."""
        if not 0 <= fraction <= 1:
            raise ConfigError(f"share must be in [0, 1], got {fraction}")
        return self.split(max(self.available, 0.0) * fraction, **kwargs)  # type: ignore[arg-type]

    def top_up(self, compute: float) -> float:
        """Enlarge this open child by up to ``compute`` units of what its parent has available now
        (e.g. a finished sibling's refund); returns the units moved. The parent's ``available``
        falls by the same amount, so the tree as a whole never gains compute."""
        if self.closed or self.parent is None:
            raise ConfigError(f"budget {self.path}: only an open child budget can be topped up")
        units = min(max(compute, 0.0), max(self.parent.available, 0.0))
        self.limit += units
        return units

    def close(self) -> float:
        """End this child budget; returns the units that flow back to the parent."""
        if self.closed:
            return 0.0
        if self._reserved_units > _EPS:
            raise ConfigError(f"budget {self.path} has open reservations")
        for child in list(self._children):
            child.close()
        refund = self.held
        self.closed = True
        if self.parent is not None:
            self.parent._children.remove(self)
        return refund

    def __enter__(self) -> Budget:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Budget({self.path}, spent={self.spent:.1f}/{self.limit:.1f})"


def usage_of_llm_call(
    prompt_tokens: int, completion_tokens: int, cached_prompt_tokens: int = 0, seconds: float = 0.0,
    wait_seconds: float = 0.0,
) -> Usage:
    """Usage of one LLM call: ``seconds`` the model's own time, ``wait_seconds`` the wait for it."""
    return Usage(
        prompt_tokens=prompt_tokens,
        cached_prompt_tokens=cached_prompt_tokens,
        completion_tokens=completion_tokens,
        llm_calls=1,
        llm_seconds=seconds,
        llm_wait_seconds=wait_seconds,
    )


__all__ = [
    "Budget",
    "Caps",
    "CostModel",
    "Entry",
    "Ledger",
    "Reservation",
    "Usage",
    "usage_of_llm_call",
]
