"""A frame searched in pieces (each ground cell once, issue 15: its own rectangle, then re-check crops) pushes
one coverage record per piece: it is one view of an object whichever of its pieces held it, it covers only
what its pieces hold, and later flights read its first piece as its footprint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases.categories import CategoryConfig
from pipeline.cases.ingest import push_sightings
from pipeline.cases.models import Case, Frame
from pipeline.types import FrameCoverage, Sighting

NIGHT = "2026-10-05T21:00:00+08:00"


def test_pieces_of_one_frame_are_one_view_and_cover_only_their_ground(
    sessions: sessionmaker[Session],
    categories: CategoryConfig,
    tmp_path: Path,
    sighting: Callable[..., Sighting],
    square: Callable[..., FrameCoverage],
) -> None:
    def piece(frame: str, east: float, half: float) -> FrameCoverage:
        return FrameCoverage("F1", frame, NIGHT, square(east, 0.0, half).footprint)

    cover = [
        piece("A.JPG", 0.0, 30.0),  # A's own rectangle holds the object at 0 m
        piece("B.JPG", 200.0, 30.0),  # B's own rectangle is elsewhere ...
        piece("B.JPG", 0.0, 13.0),  # ... and a re-check crop of B holds the object
        piece("B.JPG", 2.0, 13.0),  # a second crop of B over it too: still one view
        piece("C.JPG", 400.0, 30.0),  # C never searched there (its whole frame might have held it)
    ]
    seen = [sighting(0.0, 0.0, frame="A.JPG", seen_at=NIGHT, position_error_m=2.0, size_m=4.0)]
    with sessions.begin() as s:
        push_sightings(s, seen, frames=cover, categories=categories, data_root=tmp_path)
    with sessions() as s:
        case = s.scalars(select(Case)).one()
        assert (case.evidence_seen, case.evidence_covered) == (1, 2)
        b = s.scalars(select(Frame).where(Frame.path == "B.JPG")).one()
        assert b.footprint == [list(p) for p in square(200.0, 0.0, 30.0).footprint]
