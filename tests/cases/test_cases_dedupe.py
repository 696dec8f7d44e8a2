"""Pure merging: sightings -> objects within a flight, objects -> cases, and 'looked at, not seen'."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pipeline import dedupe, geo
from pipeline.dedupe import CaseRef, MergeRule
from pipeline.types import Sighting

RULES = {"illegal_construction": MergeRule(8.0, 8.0), "garbage_pile": MergeRule(8.0, 4.0)}


def test_nine_overlapping_frames_are_one_shed(sighting: Callable[..., Sighting]) -> None:
    # One shed seen in nine frames with a few metres of GPS/georeferencing scatter.
    scatter = [(0, 0), (3, 1), (-2, 4), (4, -3), (-4, -2), (1, 5), (5, 2), (-3, 3), (2, -5)]
    sightings = [sighting(e, n, frame=f"F{i}.JPG", score=0.5 + i / 20) for i, (e, n) in enumerate(scatter)]
    groups = dedupe.group_sightings(sightings, RULES)
    assert len(groups) == 1
    assert len(groups[0].sightings) == 9
    assert groups[0].best.score == max(s.score for s in sightings)
    assert geo.distance_m(groups[0].lat, groups[0].lon, *geo.offset_latlon(23.0205, 113.7518, 0, 0)) < 3


@pytest.mark.parametrize(
    ("second", "cls", "expected_groups"),
    [
        ((5.0, 0.0), "illegal_construction", 1),  # within gps error + half a shed
        ((11.0, 0.0), "illegal_construction", 1),  # 8 + 4 = 12 m radius
        ((13.0, 0.0), "illegal_construction", 2),
        ((9.0, 0.0), "garbage_pile", 2),  # 8 + 2 = 10 m for the other class, and classes never merge
        ((40.0, 0.0), "illegal_construction", 2),
    ],
)
def test_merge_radius_by_class(
    sighting: Callable[..., Sighting], second: tuple[float, float], cls: str, expected_groups: int
) -> None:
    first = sighting(0, 0, frame="A.JPG")
    other = sighting(*second, frame="B.JPG", cls=cls)
    assert len(dedupe.group_sightings([first, other], RULES)) == expected_groups


def test_object_size_widens_the_radius(sighting: Callable[..., Sighting]) -> None:
    a = sighting(0, 0, frame="A.JPG", size_m=30.0)
    b = sighting(20, 0, frame="B.JPG", size_m=30.0)
    assert len(dedupe.group_sightings([a, b], RULES)) == 1  # 8 + 15 = 23 m


def test_grouping_is_order_independent(sighting: Callable[..., Sighting]) -> None:
    sightings = [sighting(i * 3.0, 0, frame=f"{i}.JPG", score=0.9 - i / 100) for i in range(12)]
    one = dedupe.group_sightings(sightings, RULES)
    two = dedupe.group_sightings(list(reversed(sightings)), RULES)
    assert [(g.lat, g.lon, len(g.sightings)) for g in one] == [(g.lat, g.lon, len(g.sightings)) for g in two]


@pytest.mark.parametrize("lat", [0.0, 23.02, 45.0, 60.0])
@pytest.mark.parametrize("radius", [5.0, 20.0, 120.0])
def test_neighbour_keys_cover_the_radius(lat: float, radius: float) -> None:
    keys = set(dedupe.neighbour_keys(lat, 113.75, radius))
    for az in range(0, 360, 15):
        lon2, lat2, _ = geo._geod().fwd(113.75, lat, az, radius * 0.999)
        assert dedupe.grid_key(lat2, lon2) in keys


def test_match_picks_nearest_case_of_the_same_class(
    sighting: Callable[..., Sighting], at: Callable[[float, float], tuple[float, float]]
) -> None:
    groups = dedupe.group_sightings([sighting(0, 0)], RULES)
    cases = [
        CaseRef(1, "illegal_construction", *at(10, 0), "new"),
        CaseRef(2, "illegal_construction", *at(4, 0), "new"),
        CaseRef(3, "garbage_pile", *at(0, 0), "new"),
    ]
    assert dedupe.match_groups(groups, cases, RULES)[0] == cases[1]
    assert dedupe.match_groups(groups, cases[2:], RULES) == [None]


def test_not_seen_needs_coverage_with_a_margin(at: Callable[[float, float], tuple[float, float]]) -> None:
    square = [at(-50, -50), at(50, -50), at(50, 50), at(-50, 50)]
    cases = [
        CaseRef(1, "garbage_pile", *at(0, 0), "dispatched"),  # well inside
        CaseRef(2, "garbage_pile", *at(45, 0), "dispatched"),  # 5 m from the edge: too close to judge
        CaseRef(3, "garbage_pile", *at(80, 0), "dispatched"),  # outside
        CaseRef(4, "garbage_pile", *at(10, 10), "dispatched"),  # inside but seen
        # 7 m from the edge, a 4 m object placed to within 4 m: half of each is 4 m, so it counts
        CaseRef(5, "garbage_pile", *at(0, 43), "dispatched", size_m=4.0, position_error_m=4.0),
        # the same place with a 12 m error: it may really lie outside the frame
        CaseRef(6, "garbage_pile", *at(0, 43), "dispatched", size_m=4.0, position_error_m=12.0),
    ]
    # Half a 10 m typical extent plus half of an 8 m / sqrt(2) fallback error: a margin of 7.8 m.
    rules = {"garbage_pile": MergeRule(gps_error_m=8.0, typical_size_m=10.0)}
    assert dedupe.cases_not_seen(cases, [square], {4}, rules) == [(1, [0]), (5, [0])]
    # Two frames over the same ground: both are named.
    assert dedupe.cases_not_seen(cases[:1], [square, square], set(), rules) == [(1, [0, 1])]
