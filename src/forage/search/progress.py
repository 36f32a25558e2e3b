"""Progress of long index builds: the callback type indexes accept, and a reporter that also logs.

An index build (BM25 tokenising, dense embedding) calls ``progress(done, total)`` as it goes, with
``done`` documents of ``total`` processed; the last call has ``done == total``. ``ProgressReport``
wraps an optional callback and also logs the rate and the time left at INFO, at most every
``interval`` seconds, so a library user without a callback still sees a long build move.

Not here: drawing anything. The CLI turns the callback into a rich progress bar.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class ProgressReport:
    """Forwards ``advance(done)`` to ``callback``; logs ``what`` with rate and ETA now and then."""

    def __init__(
        self,
        what: str,
        total: int,
        callback: Progress | None = None,
        *,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.total = total
        self.callback = callback
        self.interval = interval
        self._clock = clock
        self._start = clock()
        self._last_log = self._start

    def advance(self, done: int) -> None:
        if self.callback is not None:
            self.callback(done, self.total)
        now = self._clock()
        if done < self.total and now - self._last_log < self.interval:
            return
        self._last_log = now
        elapsed = now - self._start
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else float("inf")
        logger.info(
            "%s: %d/%d documents, %.1f/s, %.0f s left", self.what, done, self.total, rate, left
        )


__all__ = ["Progress", "ProgressReport"]
