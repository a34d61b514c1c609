"""The HubSpot writer stays under the advertised rate limit instead of collecting 429s."""

from __future__ import annotations

import httpx

from vaultkeeper.connectors import make_writer
from vaultkeeper.connectors.pacing import RatePacer
from vaultkeeper.connectors.writer import NewRecord
from vaultkeeper.sandbox import Sandbox


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_learns_the_limit_and_never_exceeds_the_window() -> None:
    clock = FakeClock()
    pacer = RatePacer(sleep=clock.sleep, clock=clock)
    pacer.observe(httpx.Response(200, headers={
        "X-HubSpot-RateLimit-Max": "5", "X-HubSpot-RateLimit-Interval-Milliseconds": "1000"}))
    sent = []
    for _ in range(23):
        pacer.wait()
        sent.append(clock.now)
        clock.now += 0.01  # each request takes 10 ms
    for k in range(len(sent)):
        in_window = [t for t in sent if sent[k] - 1.0 < t <= sent[k]]
        assert len(in_window) <= 5
    # Paced close to the limit: 23 requests at 5/s need a little over 4 s, not much more.
    assert 4.0 <= sent[-1] - sent[0] <= 4.0 + 23 * 0.06


def test_writer_meets_an_enforced_limit_without_a_single_429() -> None:
    with Sandbox(records=0, seed=1, rate_limit=6, enforce_rate_limit=True) as sb, \
            make_writer("hubspot", sb.url, sb.token, ca_file=sb.ca_file) as writer:
        result = writer.create("contacts", [NewRecord(str(i), {"firstname": f"P{i}"})
                                            for i in range(800)])
        assert result.ok and len({o.id for o in result.outcomes}) == 800
        stats = sb.stats()
        assert stats["refused"].get("rate_limit", 0) == 0
        assert stats["status"].get("429", 0) == 0
        assert writer.request_stats()["paced_s"] > 0
