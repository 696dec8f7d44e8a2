"""What the case page shows of a case's evidence and change: the looks per flight, and the before/after
pair (the last adequate frame without it beside the first frame with it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import case as when
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.cases.models import Case, CaseViewRow, Frame, SightingRow, Zone
from pipeline.review import wording
from pipeline.review.files import file_url


def _frame(root: Path, frame: Frame | None, box: list[float] | None = None) -> dict[str, Any] | None:
    if frame is None:
        return None
    return {
        "url": file_url(root, frame.path),
        "file": wording.file_name(frame.path),
        "flight": frame.flight_id,
        "at": frame.seen_at,
        "box": box,
    }


def evidence_summary(session: Session, case: Case, root: Path) -> dict[str, Any]:
    """Looks per flight (oldest first), the before/after frames, and the zone, for the case page."""
    seen_sum = func.sum(when((CaseViewRow.seen, 1), else_=0))
    looks = [
        {"flight": flight, "seen": int(seen or 0), "covered": int(covered), "at": at}
        for flight, seen, covered, at in session.execute(
            select(CaseViewRow.flight_id, seen_sum, func.count(), func.min(Frame.seen_at))
            .join(Frame, Frame.id == CaseViewRow.frame_id)
            .where(CaseViewRow.case_id == case.id)
            .group_by(CaseViewRow.flight_id)
            .order_by(func.min(Frame.seen_at))
        )
    ]
    first = session.scalars(
        select(SightingRow)
        .where(SightingRow.case_id == case.id)
        .order_by(SightingRow.seen_at, SightingRow.id)
    ).first()
    after = None
    if first is not None:
        box = [first.x0_px, first.y0_px, first.x1_px, first.y1_px]
        after = _frame(root, session.get(Frame, first.frame_id), box)
    before = _frame(root, session.get(Frame, case.before_frame_id)) if case.before_frame_id else None
    zone = session.get(Zone, case.zone_id) if case.zone_id is not None else None
    return {
        "looks": looks,
        "before": before,
        "after": after,
        "zone": None if zone is None else {"id": zone.id, "name": zone.name, "reason": zone.reason,
                                           "removed": zone.removed_at is not None},
    }  # fmt: skip
