"""Client-side pacing under a vendor's rolling rate-limit window (HubSpot's
``X-HubSpot-RateLimit-*`` headers), shared by concurrent requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

DEFAULT_LIMIT = (100, 10.0)  # HubSpot's smallest published burst limit, until headers say more


class RatePacer:
    """Keeps requests under HubSpot's rolling window (``X-HubSpot-RateLimit-Max`` requests per
    ``…-Interval-Milliseconds``), learned from the headers of every response.

    HubSpot counts a request when it arrives, which is some time after we send it; so each
    request's stamp moves to when its answer came back (never earlier than the server saw it),
    and the next request waits until the oldest stamp in a full window has left it.
    """

    def __init__(self, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.interval = DEFAULT_LIMIT
        self.sleep, self.clock = sleep, clock
        self.sent: list[list[float]] = []  # one mutable [stamp] per request in the window
        self.waited_s = 0.0
        self.margin_s = 0.05
        self._lock = threading.Lock()
        self._local = threading.local()

    def wait(self) -> None:
        """Block until one more request fits in the window (thread-safe: each caller reserves
        its own send time, so concurrent batches share one budget)."""
        with self._lock:
            now = self.clock()
            self.sent = [s for s in self.sent if s[0] > now - self.interval]
            at = now
            if len(self.sent) >= self.limit:
                stamps = sorted(s[0] for s in self.sent)
                at = max(now, stamps[len(stamps) - self.limit] + self.interval + self.margin_s)
            slot = [at]
            self.sent.append(slot)
            delay = at - now
            self.waited_s += delay
        self._local.slot = slot
        if delay > 0:
            self.sleep(delay)

    def observe(self, response: httpx.Response) -> None:
        """Re-stamp this thread's request at its answer; learn the limit from the headers."""
        slot = getattr(self._local, "slot", None)
        if slot is not None:
            with self._lock:
                slot[0] = max(slot[0], self.clock())
        headers = response.headers
        try:
            limit = int(headers["X-HubSpot-RateLimit-Max"])
            interval = int(headers["X-HubSpot-RateLimit-Interval-Milliseconds"]) / 1000
        except (KeyError, ValueError):
            return
        if limit > 0 and interval > 0:
            self.limit, self.interval = limit, interval
