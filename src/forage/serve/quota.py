"""A compute budget per API key per time window, for ``forage serve --key-budget --key-window``.

``KeyWindows(units, seconds, clock=...)`` gives every key ``units`` compute units per window of
``seconds``. Windows are fixed and shared by every key: window ``i`` covers
``[origin + i * seconds, origin + (i + 1) * seconds)`` on ``clock`` (``origin`` is the clock when
the object was made), so a key's new window starts fresh however much it spent in the last.

Reserve before running, settle after: ``reserve(key, units)`` sets units aside (``None`` when they
do not fit in what the key has left), and ``Hold.settle(spent)`` turns the reservation into what
the run spent (at most what was reserved) and gives the rest back. Two concurrent requests
therefore cannot both take the last units: the second sees the first's reservation. A hold made in
an earlier window settles into that window, which is over, so it never reduces a later window.

``auto_grant`` is the arithmetic of ``budget: "auto"``: what is left outside the reserve, capped
by the per-request cap; once only the reserve is left, it funds a first reading (the cascade's
cheapest rung) per request, so requests that arrive late in a window still get an answer.

Pure bookkeeping: no I/O, no HTTP. Not here: which key a request belongs to and the refusals
(``forage.serve.app``), the settings' checks (``forage.serve.settings``).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

ANONYMOUS = ""  # the bucket of requests that send no key


def bucket(authorization: str) -> str:
    """The window bucket of an ``Authorization`` header: a digest of its Bearer token (the raw
    key is not kept), or ``ANONYMOUS`` without one."""
    scheme, _, given = authorization.partition(" ")
    token = given.strip()
    if scheme.lower() != "bearer" or not token:
        return ANONYMOUS
    return hashlib.sha256(token.encode()).hexdigest()[:32]


@dataclass
class _Window:
    index: int
    spent: float = 0.0
    reserved: float = 0.0


class Hold:
    """Units reserved for one run in one key's window; ``settle`` once (later calls do nothing)."""

    def __init__(self, owner: KeyWindows | None, key: str, index: int, units: float) -> None:
        self._owner = owner
        self.key = key
        self.index = index
        self.units = units
        self.settled: float | None = None

    def settle(self, spent: float) -> float:
        """Charge ``spent`` (clamped to ``[0, units]``) and release the rest; what was charged."""
        if self.settled is not None:
            return self.settled
        charged = min(max(float(spent), 0.0), self.units) if math.isfinite(spent) else self.units
        self.settled = charged
        if self._owner is not None:
            self._owner._settle(self, charged)
        return charged


def auto_grant(left: float, *, cap: float, reserve: float, min_step: float,
               first_step: float) -> float | None:
    """Units for an ``auto`` request when the key has ``left``: ``min(cap, left - reserve)``; once
    that is below ``min_step``, ``min(cap, left, first_step)`` out of the reserve; ``None`` when
    even ``min_step`` does not fit."""
    outside = left - reserve
    if outside >= min_step:
        return min(cap, outside)
    if left >= min_step:
        return min(cap, left, first_step)
    return None


class KeyWindows:
    """``units`` compute units per key per window of ``seconds``. See the module docstring."""

    def __init__(self, units: float, seconds: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not (math.isfinite(units) and units > 0):
            raise ValueError(f"a key budget must be positive, not {units:g}")
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a key window must be positive seconds, not {seconds:g}")
        self.units = float(units)
        self.seconds = float(seconds)
        self._clock = clock
        self._origin = clock()
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def _index(self) -> int:
        return int((self._clock() - self._origin) // self.seconds)

    def _current(self, key: str) -> _Window:
        index = self._index()
        w = self._windows.get(key)
        if w is None or w.index != index:
            if w is None and len(self._windows) >= 4096:  # forget keys whose window is over
                self._windows = {k: v for k, v in self._windows.items()
                                 if v.index == index and (v.spent or v.reserved)}
            w = self._windows[key] = _Window(index)
        return w

    def left(self, key: str) -> float:
        """Units ``key`` may still reserve in the current window."""
        with self._lock:
            w = self._current(key)
            return max(0.0, self.units - w.spent - w.reserved)

    def spent(self, key: str) -> float:
        """Units settled in ``key``'s current window."""
        with self._lock:
            return self._current(key).spent

    def retry_after(self) -> float:
        """Seconds until the next window starts."""
        elapsed = self._clock() - self._origin
        return self.seconds - (elapsed % self.seconds)

    def reserve(self, key: str, units: float) -> Hold | None:
        """Set ``units`` aside for one run, or ``None`` when the key has less left."""
        with self._lock:
            w = self._current(key)
            if units > self.units - w.spent - w.reserved + 1e-9:
                return None
            w.reserved += units
            return Hold(self, key, w.index, units)

    def reserve_auto(self, key: str, *, cap: float, reserve_share: float, min_step: float,
                     first_step: float) -> Hold | None:
        """``reserve`` what ``auto_grant`` gives the key now (checked and taken at once)."""
        with self._lock:
            w = self._current(key)
            grant = auto_grant(self.units - w.spent - w.reserved, cap=cap,
                               reserve=reserve_share * self.units, min_step=min_step,
                               first_step=first_step)
            if grant is None:
                return None
            w.reserved += grant
            return Hold(self, key, w.index, grant)

    def _settle(self, hold: Hold, charged: float) -> None:
        with self._lock:
            w = self._windows.get(hold.key)
            if w is None or w.index != hold.index:
                return  # that window is over: nothing of it carries into this one
            w.reserved = max(0.0, w.reserved - hold.units)
            w.spent += charged


def unmetered(units: float) -> Hold:
    """A hold that charges nothing anywhere (no key budget configured)."""
    return Hold(None, ANONYMOUS, 0, units)


__all__ = ["ANONYMOUS", "Hold", "KeyWindows", "auto_grant", "bucket", "unmetered"]
