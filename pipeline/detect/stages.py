"""Where a frame's time goes, stage by stage (plan, rescale, tile, network, merge, place), so the bench can
show which lever is next. A clock is cheap (a perf_counter pair per stage entry), so detection always keeps
one and reports it in FrameDetections.stage_seconds; stages outside detection (decode, record, push) are
timed by their callers with a clock of their own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

# The order stages are reported in: a frame's life from file to case queue.
STAGES = ("decode", "plan", "rescale", "tile", "network", "merge", "place", "record", "push")


class StageClock:
    """Seconds per stage name, summed over every entry into it."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - started)

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def items(self) -> tuple[tuple[str, float], ...]:
        """(stage, seconds) in STAGES order, then any other stage by name."""
        known = [(s, self.seconds[s]) for s in STAGES if s in self.seconds]
        other = sorted((s, v) for s, v in self.seconds.items() if s not in STAGES)
        return tuple(known + other)
