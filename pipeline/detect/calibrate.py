"""Per-class minimum scores chosen on whole frames: the score at which each class's object-level F1 peaks.

A network's scores are not comparable across classes (one class's look-alikes score higher than another's),
and tile-level metrics say little about a whole frame with many tiles of background. So the threshold is
chosen the way the product is judged: detections from whole flights with truth (`patrol evaluate`'s
matching), object-level recall (an object counts once it is found by any detection at or above the
threshold) and precision (detections at or above it that find an object of their class), for every
candidate threshold; the best F1 wins, the lowest threshold among equals (a missed violation costs more
than a false one a reviewer rejects in a second). The result goes into the model card as `min_score`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pipeline.detect.evaluate import Group, score_class
from pipeline.errors import ModelError

# Candidate thresholds: the grid a person would try by hand, fine enough for the few hundred detections a
# calibration set holds.
GRID: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 19))


@dataclass(frozen=True)
class Choice:
    class_name: str
    min_score: float
    recall: float | None
    precision: float | None
    f1: float
    truth: int
    detections: int  # at or above min_score, ignored ones excluded

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_curve(
    class_name: str, groups: Sequence[Group], tolerance_m: float, grid: Sequence[float] = GRID
) -> list[Choice]:
    """One row per candidate threshold for one class: recall, precision and F1 of what scores at or above
    it (`patrol calibrate --table`; the ground a threshold is chosen on, shown whole).

    ModelError when the flights label no object of the class."""
    rows = []
    for t in grid:
        kept = [(tuple(d for d in dets if d.score >= t), truth) for dets, truth in groups]
        s = score_class(class_name, kept, tolerance_m)
        if not s.truth:
            raise ModelError(f"cannot calibrate {class_name}: the flights label none in searched rows")
        recall, precision = s.recall, s.precision
        f1 = 2 * recall * precision / (recall + precision) if recall and precision else 0.0
        judged = s.true_positives + s.false_positives
        rows.append(Choice(class_name, t, recall, precision, round(f1, 4), s.truth, judged))
    return rows


def best_f1(class_name: str, curve: Sequence[Choice]) -> Choice:
    """The row of a score_curve with the best F1, the lowest threshold among equals; ModelError when the
    class is found at no score."""
    best: Choice | None = None
    for choice in curve:
        if best is None or choice.f1 > best.f1:
            best = choice
    if best is None or best.f1 == 0.0:
        raise ModelError(f"cannot calibrate {class_name}: no detection finds one at any score")
    return best


def choose_min_score(
    class_name: str, groups: Sequence[Group], tolerance_m: float, grid: Sequence[float] = GRID
) -> Choice:
    """The threshold for one class with the best object-level F1 over `groups` (detections, truth).

    ModelError when the flights cannot say: no labelled object of the class, or none found at any score.
    """
    return best_f1(class_name, score_curve(class_name, groups, tolerance_m, grid))
