"""A case's confidence: its best score and how consistently the frames that looked at it saw it. Pure.

An object seen in 1 of 7 frames that covered it adequately is weak evidence whatever its best score; one
seen in 6 of 7 is strong. The rule is a logistic model of three features,

    best score,  consistency = (seen + 1) / (covered + 2)  (Laplace: 0 of 0 is 0.5, not 0 or 1),
    log(1 + seen)  (more independent looks, more certainty),

with weights fitted on simulated flights with truth (bench/bench_evidence.py, which also records the fit
and the low-evidence threshold in bench/RESULTS-evidence.md). A case below the threshold is "low
evidence": kept, counted, shown in its own view, not in the morning queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EvidenceRule:
    # Fitted by bench/bench_evidence.py (see the module docstring); the values and their fit are recorded
    # in bench/RESULTS-evidence.md.
    bias: float = -6.0
    w_score: float = 6.0
    w_consistency: float = 4.0
    w_views: float = 0.8
    low_below: float = 0.5

    def features(self, best_score: float, seen: int, covered: int) -> tuple[float, float, float]:
        covered = max(covered, seen)
        return best_score, (seen + 1.0) / (covered + 2.0), math.log1p(seen)

    def confidence(self, best_score: float, seen: int, covered: int) -> float:
        s, c, v = self.features(best_score, seen, covered)
        z = self.bias + self.w_score * s + self.w_consistency * c + self.w_views * v
        return 1.0 / (1.0 + math.exp(-z))

    def is_low(self, confidence: float) -> bool:
        return confidence < self.low_below


DEFAULT_RULE = EvidenceRule()
