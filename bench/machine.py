"""How fast this machine is right now, measured the same way by every bench.

A shared virtual machine's CPU swings by itself, by a factor of up to two: a fixed pure-Python
loop's median round is 1.7–1.85 times its best here on a quiet day. Each bench prints this swing
beside its own figure, so a reader can tell the code's cost from the machine's mood, and the
loop's best time, to compare machines by it."""

from __future__ import annotations

import statistics
import time


def machine_noise(rounds: int = 15) -> tuple[float, float]:
    """Best and median milliseconds of 1,000,000 additions in a plain loop."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        times.append((time.perf_counter() - started) * 1000)
    return min(times), statistics.median(times)


def machine_swing(rounds: int = 15) -> float:
    """The loop's median over its best."""
    best, median = machine_noise(rounds)
    return median / best
