"""A case's confidence: its best score and how consistently the frames that looked at it saw it. Pure.

An object seen in 1 of 7 frames that covered it adequately is weak evidence whatever its best score; one
seen in 6 of 7 is strong. The rule is a logistic model of four features,

    best score,  consistency = (seen + 1) / (covered + 2)  (Laplace: 0 of 0 is 0.5, not 0 or 1),
    log(1 + seen)  (more independent looks, more certainty),
    log(1 + position error)  (only far oblique views place a thing to within 20 m: few pixels, little detail),

with weights fitted on simulated flights with truth (bench/bench_evidence.py, which also records the fit
and the low-evidence threshold in bench/RESULTS-evidence.md). A case below the threshold is "low
evidence": kept, counted, shown in its own view, not in the morning queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TYPICAL_ERROR_M = 5.0  # a nadir sighting's 90 % radius without RTK (pipeline.position_error); for old cases


@dataclass(frozen=True)
class EvidenceRule:
    # Fitted (bench/bench_evidence.py's `fit`) on worlds 9101-9103 pooled: 196 cases, 134 true, three
    # nights of nadir and -45 degree flights each, merge factor 0.35; the threshold keeps 95 % of those true
    # cases. Checked on the larger worlds 9111-9112, which the fit never saw (bench/RESULTS-evidence.md).
    bias: float = -0.985
    w_score: float = 1.903
    w_consistency: float = 6.539
    w_views: float = -0.26
    w_error: float = -1.13
    low_below: float = 0.363

    def features(
        self, best_score: float, seen: int, covered: int, error_m: float | None
    ) -> tuple[float, float, float, float]:
        covered = max(covered, seen)
        err = TYPICAL_ERROR_M if error_m is None else error_m
        return best_score, (seen + 1.0) / (covered + 2.0), math.log1p(seen), math.log1p(err)

    def confidence(self, best_score: float, seen: int, covered: int, error_m: float | None = None) -> float:
        s, c, v, e = self.features(best_score, seen, covered, error_m)
        z = self.bias + self.w_score * s + self.w_consistency * c + self.w_views * v + self.w_error * e
        return 1.0 / (1.0 + math.exp(-z))

    def is_low(self, confidence: float) -> bool:
        return confidence < self.low_below


DEFAULT_RULE = EvidenceRule()
