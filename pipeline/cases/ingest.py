"""Sightings into the queue: new cases, sightings on old ones, and "looked at, not seen" on others.

`push_sightings` is what the flow calls, once per flight (or a few flights), inside one transaction:

    with sessions.begin() as session:
        result = push_sightings(session, sightings, frames=coverage, categories=cats, data_root=root)

A rerun of the same flight adds nothing: sightings are keyed by flight, frame, class and box, and "not seen"
is recorded once per case and flight. Pushes are serialised by a lock row, so two flights over the same
ground pushed at once still open one case per object.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from pipeline import dedupe
from pipeline.cases import coverage, lifecycle, zones
from pipeline.cases.categories import CategoryConfig
from pipeline.cases.evidence import store_evidence
from pipeline.cases.models import Case, CaseEvent, Flight, Frame, QueueLock, SightingRow, Zone
from pipeline.config import DEFAULT_TZ
from pipeline.errors import CaseError
from pipeline.types import FrameCoverage, Sighting

CLOSED_POLICIES = ("new_linked", "reopen")
_CHUNK = 500  # keys per IN list: well under SQLite's and PostgreSQL's parameter limits
# Cases are looked for this far beyond the sightings' own error (a case's error is its best sightings').
CASE_REACH_M = 20.0

T = TypeVar("T")


@dataclass(frozen=True)
class PushResult:
    cases_new: int = 0
    cases_updated: int = 0
    sightings_added: int = 0
    sightings_skipped: int = 0  # already in the queue (a rerun)
    not_seen: int = 0  # cases a footprint covered without seeing them
    reopened: int = 0  # resolved or closed cases seen again
    case_ids: tuple[int, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["case_ids"] = list(self.case_ids)
        return out


def sighting_key(s: Sighting) -> str:
    """Flight, frame, class, box and where it was placed: the same detection pushed again is the same row,
    and one placed elsewhere (the flight's telemetry was corrected) is a new one that supersedes it."""
    box = ",".join(f"{v:.1f}" for v in s.xyxy_px)
    where = f"{s.lat:.6f},{s.lon:.6f}"
    text = f"{s.flight_id}\0{s.frame_path}\0{s.class_name}\0{box}\0{where}"
    return hashlib.sha256(text.encode()).hexdigest()


def parse_time(text: str, local_tz: str) -> datetime:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as err:
        raise CaseError(f"not an ISO 8601 time: {text!r}") from err
    return dt.replace(tzinfo=ZoneInfo(local_tz)) if dt.tzinfo is None else dt


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _ref(case: Case) -> dedupe.CaseRef:
    return dedupe.CaseRef(
        case.id, case.class_name, case.lat, case.lon, case.status, case.size_m, case.position_error_m
    )


def _cases_near(session: Session, keys: set[int], statuses: Sequence[str]) -> list[Case]:
    found: list[Case] = []
    for chunk in _chunks(sorted(keys)):
        found.extend(
            session.scalars(select(Case).where(Case.grid_key.in_(chunk), Case.status.in_(statuses))).all()
        )
    return found


def push_sightings(
    session: Session,
    sightings: Sequence[Sighting],
    *,
    categories: CategoryConfig,
    data_root: Path,
    frames: Sequence[FrameCoverage] = (),
    closed_seen_again: str = "new_linked",
    local_tz: str = DEFAULT_TZ,
    now: datetime | None = None,
) -> PushResult:
    """Put one or more flights' sightings into the queue; the caller commits. See the module docstring."""
    if closed_seen_again not in CLOSED_POLICIES:
        raise CaseError(
            f"closed_seen_again must be one of {', '.join(CLOSED_POLICIES)}, not {closed_seen_again!r}"
        )
    now = now or lifecycle.utcnow()
    # First statement of the transaction: pushes queue here, so each sees the cases the previous one opened.
    session.execute(update(QueueLock).where(QueueLock.name == "push").values(touched_at=now))
    by_flight: dict[str, list[Sighting]] = defaultdict(list)
    cover: dict[str, list[FrameCoverage]] = defaultdict(list)
    for s in sightings:
        by_flight[s.flight_id].append(s)
    for f in frames:
        cover[f.flight_id].append(f)

    def first_time(flight_id: str) -> str:
        times = [s.seen_at for s in by_flight.get(flight_id, ())] + [
            f.seen_at for f in cover.get(flight_id, ())
        ]
        return min(times) if times else ""

    total = PushResult()
    for flight_id in sorted(set(by_flight) | set(cover), key=lambda f: (first_time(f), f)):
        step = _push_flight(
            session,
            flight_id,
            by_flight.get(flight_id, []),
            cover.get(flight_id, []),
            categories,
            data_root,
            closed_seen_again,
            local_tz,
            now,
        )
        total = PushResult(
            cases_new=total.cases_new + step.cases_new,
            cases_updated=total.cases_updated + step.cases_updated,
            sightings_added=total.sightings_added + step.sightings_added,
            sightings_skipped=total.sightings_skipped + step.sightings_skipped,
            not_seen=total.not_seen + step.not_seen,
            reopened=total.reopened + step.reopened,
            case_ids=total.case_ids + step.case_ids,
        )
    session.flush()
    return total


def _frames_for(
    session: Session,
    flight_id: str,
    sightings: Sequence[Sighting],
    coverage_list: Sequence[FrameCoverage],
    local_tz: str,
) -> dict[str, Frame]:
    frames = {f.path: f for f in session.scalars(select(Frame).where(Frame.flight_id == flight_id))}
    stored: set[str] = set()
    for c in coverage_list:
        frame = frames.get(c.frame_path)
        if frame is None:
            frame = Frame(flight_id=flight_id, path=c.frame_path)
            session.add(frame)
            frames[c.frame_path] = frame
        if c.frame_path in stored:
            # A frame searched in pieces (each ground cell once: its own rectangle, then re-check crops)
            # keeps its first piece, its own rectangle, as the footprint later flights read; the others count
            # for this push's views. Less than it searched, never more.
            continue
        stored.add(c.frame_path)
        frame.seen_at = parse_time(c.seen_at, local_tz)
        frame.footprint = [[lat, lon] for lat, lon in c.footprint]
    for s in sightings:
        if s.frame_path not in frames:
            frame = Frame(flight_id=flight_id, path=s.frame_path, seen_at=parse_time(s.seen_at, local_tz))
            session.add(frame)
            frames[s.frame_path] = frame
    session.flush()
    coverage.index_frames(session, [frames[p] for p in dict.fromkeys(c.frame_path for c in coverage_list)])
    return frames


def _push_flight(
    session: Session,
    flight_id: str,
    sightings: Sequence[Sighting],
    coverage_list: Sequence[FrameCoverage],
    categories: CategoryConfig,
    data_root: Path,
    closed_seen_again: str,
    local_tz: str,
    now: datetime,
) -> PushResult:
    flight = session.get(Flight, flight_id)
    if flight is None:
        session.add(Flight(id=flight_id, first_pushed_at=now, last_pushed_at=now))
    else:
        flight.last_pushed_at = now
    session.flush()
    frames = _frames_for(session, flight_id, sightings, coverage_list, local_tz)

    keyed = {sighting_key(s): s for s in sightings}
    existing: set[str] = set()
    for chunk in _chunks(sorted(keyed)):
        existing.update(session.scalars(select(SightingRow.key).where(SightingRow.key.in_(chunk))))
    fresh = [s for k, s in keyed.items() if k not in existing]
    skipped = len(sightings) - len(fresh)
    # Rows this flight stored earlier for the frames pushed now that this push no longer holds: placed
    # with telemetry since corrected (or under an older key). They are replaced below.
    pushed = sorted(
        {frames[p].id for p in {s.frame_path for s in sightings} | {c.frame_path for c in coverage_list}}
    )
    stale: list[SightingRow] = []
    for frame_ids in _chunks(pushed):
        stale.extend(
            r
            for r in session.scalars(
                select(SightingRow).where(
                    SightingRow.flight_id == flight_id, SightingRow.frame_id.in_(frame_ids)
                )
            )
            if r.key not in keyed
        )
    stale_ids = {r.id for r in stale}
    # Cases this flight already put sightings on (an earlier, partial push of the same flight).
    seen_ids: set[int] = {
        case_id
        for row_id, case_id in session.execute(
            select(SightingRow.id, SightingRow.case_id).where(SightingRow.flight_id == flight_id)
        )
        if row_id not in stale_ids
    }

    rules, default_rule = categories.merge_rules(), categories.default_rule()
    groups = dedupe.group_sightings(fresh, rules, default_rule)
    # The query reach allows for the largest error and size at hand (cases' own errors are rarely larger
    # than the sightings that made them; CASE_REACH_M bounds the rest).
    max_err = max([g.position_error_m or 0.0 for g in groups] + [CASE_REACH_M])
    max_size = max([g.size_m or 0.0 for g in groups] + [0.0]) or None
    radius = dedupe.match_radius_m(rules, default_rule, max_err, max_size)
    keys = {k for g in groups for k in dedupe.neighbour_keys(g.lat, g.lon, radius)}
    statuses = (*lifecycle.MATCHABLE, lifecycle.EXCLUDED, lifecycle.CLOSED)
    near = _cases_near(session, keys, statuses) if keys else []
    live = {c.id: c for c in near if c.status != lifecycle.CLOSED}
    closed = {c.id: c for c in near if c.status == lifecycle.CLOSED}
    matches = dedupe.match_groups(groups, [_ref(c) for c in live.values()], rules, default_rule)
    closed_matches = dedupe.match_groups(groups, [_ref(c) for c in closed.values()], rules, default_rule)
    active_zones = zones.zones_near(session, [(g.lat, g.lon) for g in groups])
    usable = [c for c in coverage_list if len(c.footprint) >= 3]
    footprints = [c.footprint for c in usable]

    new = updated = reopened = 0
    touched: list[Case] = []
    for group, hit, old in zip(groups, matches, closed_matches, strict=True):
        fresh_case = False
        if hit is not None:
            case = live[hit.case_id]
            if case.status == lifecycle.EXCLUDED:
                _leave_removed_zone(session, case, flight_id, now)
            if case.status == lifecycle.RESOLVED:
                lifecycle.reopen(
                    session, case, lifecycle.SYSTEM_ACTOR, note="seen again", flight_id=flight_id, now=now
                )
                _recurrence(session, case, flight_id, now)
                reopened += 1
            updated += 1
        elif old is not None and closed_seen_again == "reopen":
            case = closed[old.case_id]
            lifecycle.revive(
                session, case, lifecycle.SYSTEM_ACTOR, note="seen again", flight_id=flight_id, now=now
            )
            _recurrence(session, case, flight_id, now)
            live[case.id] = case
            reopened += 1
            updated += 1
        else:
            zone = zones.zone_for(active_zones, group.class_name, group.lat, group.lon)
            case = _open_case(
                session, group, categories, now, previous=old.case_id if old else None, zone=zone
            )
            if old is not None:
                _recurrence(session, case, flight_id, now)
            live[case.id] = case
            new += 1
            fresh_case = True
        rule = rules.get(group.class_name, default_rule)
        # A flight older than the case's last sighting (pushed late) adds evidence but does not speak for
        # its latest state: counts, area and absence stay the newer flight's.
        latest = fresh_case or max(parse_time(s.seen_at, local_tz) for s in group.sightings) >= case.last_seen
        _add_group(
            session, case, group, frames, data_root, local_tz, now, first_on_flight=case.id not in seen_ids
        )
        if latest and coverage.note_area(case, coverage.group_area_m2(group), fresh_case):
            lifecycle.record_event(
                session,
                case,
                "grown",
                lifecycle.SYSTEM_ACTOR,
                now,
                flight_id=flight_id,
                note=f"area {case.area_first_m2:.0f} -> {case.area_last_m2:.0f} m2",
            )
        margin = rule.coverage_margin_m(group.size_m, group.position_error_m)
        covered = _once(
            frames[usable[i].frame_path] for i in dedupe.covering(group.lat, group.lon, margin, footprints)
        )
        seen_frames = {frames[s.frame_path].id for s in group.sightings}
        counts = coverage.record_views(session, case, flight_id, covered, seen_frames)
        if latest:
            case.evidence_seen, case.evidence_covered = counts
            case.absent_since = None
        if fresh_case:
            _tag_new(session, case, group, rule, flight_id, local_tz)
        seen_ids.add(case.id)
        touched.append(case)

    _supersede(session, stale, keyed, flight_id, now)
    not_seen = _record_not_seen(session, flight_id, usable, frames, seen_ids, categories, now, local_tz)
    coverage.refresh_evidence(session, [*touched, *not_seen])
    return PushResult(
        new, updated, len(fresh), skipped, len(not_seen), reopened, tuple(c.id for c in touched)
    )


def _supersede(
    session: Session, stale: Sequence[SightingRow], keyed: dict[str, Sighting], flight_id: str, now: datetime
) -> None:
    """Remove rows replaced by this push and bring their cases up to date: a case left with no sightings
    that nobody has reviewed becomes a duplicate of the case its frames' detections now lie on (or is
    rejected as superseded when there is none); a reviewed one keeps its state and gets the event."""
    if not stale:
        return
    frames_of: dict[int, set[tuple[int, str]]] = defaultdict(set)
    for r in stale:
        frames_of[r.case_id].add((r.frame_id, r.class_name))
    current = session.execute(
        select(SightingRow.frame_id, SightingRow.class_name, SightingRow.case_id).where(
            SightingRow.flight_id == flight_id,
            SightingRow.frame_id.in_({r.frame_id for r in stale}),
            SightingRow.key.in_(list(keyed)),
        )
    ).all()
    for r in stale:
        session.delete(r)
    session.flush()
    for case_id, looked in sorted(frames_of.items()):
        case = session.get(Case, case_id)
        if case is None:
            continue
        heirs = [c for f, cls, c in current if (f, cls) in looked and c != case_id]
        left = recount(session, case)
        note = "its detections were placed again (the flight's telemetry changed)"
        if left == 0 and case.status == lifecycle.NEW:
            heir = max(set(heirs), key=heirs.count) if heirs else None
            case.status = lifecycle.DUPLICATE if heir is not None else lifecycle.REJECTED
            case.duplicate_of_id = heir
            case.reason = f"superseded by case {heir}" if heir is not None else "superseded"
            lifecycle.record_event(
                session, case, "superseded", lifecycle.SYSTEM_ACTOR, now,
                from_status=lifecycle.NEW, to_status=case.status, flight_id=flight_id, note=note,
            )  # fmt: skip
        else:
            lifecycle.record_event(
                session, case, "superseded", lifecycle.SYSTEM_ACTOR, now, flight_id=flight_id, note=note
            )
        case.updated_at = now


def recount(session: Session, case: Case) -> int:
    """Counts, times, position and best evidence of a case from the sightings it still holds."""
    rows = list(session.scalars(select(SightingRow).where(SightingRow.case_id == case.id)))
    case.sightings_count = len(rows)
    case.flights_count = len({r.flight_id for r in rows})
    if not rows:
        return 0
    weight = sum(max(r.score, 1e-6) for r in rows)
    case.lat = sum(r.lat * max(r.score, 1e-6) for r in rows) / weight
    case.lon = sum(r.lon * max(r.score, 1e-6) for r in rows) / weight
    case.grid_key = dedupe.grid_key(case.lat, case.lon)
    case.first_seen = min(r.seen_at for r in rows)
    case.last_seen = max(r.seen_at for r in rows)
    best = max(rows, key=lambda r: (r.score, -r.id))
    frame = session.get(Frame, best.frame_id)
    case.score, case.best_sighting_id = best.score, best.id
    case.evidence_path, case.evidence_sha256 = best.evidence_path, best.evidence_sha256
    case.frame_path = frame.path if frame is not None else case.frame_path
    return len(rows)


def _leave_removed_zone(session: Session, case: Case, flight_id: str, now: datetime) -> None:
    """An excluded case whose zone was removed becomes an ordinary new case when it is seen again."""
    zone = session.get(Zone, case.zone_id) if case.zone_id is not None else None
    if zone is not None and zone.removed_at is None:
        return
    case.status = lifecycle.NEW
    lifecycle.record_event(
        session,
        case,
        "zone_removed",
        lifecycle.SYSTEM_ACTOR,
        now,
        from_status=lifecycle.EXCLUDED,
        to_status=lifecycle.NEW,
        flight_id=flight_id,
        note=None if zone is None else f"zone {zone.id} ({zone.name}) removed by {zone.removed_by}",
    )


def _recurrence(session: Session, case: Case, flight_id: str, now: datetime) -> None:
    """Seen again after enforcement resolved or closed it (复发): flagged, and back in the queue."""
    case.recurrence = True
    lifecycle.record_event(session, case, "recurrence", lifecycle.SYSTEM_ACTOR, now, flight_id=flight_id)


def _tag_new(
    session: Session,
    case: Case,
    group: dedupe.SightingGroup,
    rule: dedupe.MergeRule,
    flight_id: str,
    local_tz: str,
) -> None:
    """New since (新增): at least two earlier flights covered this ground adequately and did not see it
    (there was no case here, or this one would have matched it), in enough views that an object there
    then would have been seen (coverage.NEW_MISS_P, with the seen rate of this flight's views as the
    chance per view; two flights because one flight's misses are not independent, as for absence). With
    no earlier adequate view it was there when the ground was first surveyed; with too few, neither is
    claimed."""
    first = min(parse_time(s.seen_at, local_tz) for s in group.sightings)
    margin = rule.coverage_margin_m(group.size_m, group.position_error_m)
    earlier = coverage.frames_covering(
        session, group.lat, group.lon, margin, not_flight=flight_id, before=first
    )
    if not earlier:
        case.first_surveyed = True
        return
    rate = (case.evidence_seen + 1.0) / (case.evidence_covered + 2.0)
    flights = {f.flight_id for f in earlier}
    if len(flights) < 2 or (1.0 - rate) ** len(earlier) > coverage.NEW_MISS_P:
        return
    last = earlier[0]
    case.new_since, case.before_frame_id = last.seen_at, last.id
    # The earlier flights' views are evidence too: they looked and did not see.
    by_flight: dict[str, list[Frame]] = defaultdict(list)
    for f in earlier:
        by_flight[f.flight_id].append(f)
    for earlier_flight, looked in by_flight.items():
        coverage.record_views(session, case, earlier_flight, looked, set())


def _open_case(
    session: Session,
    group: dedupe.SightingGroup,
    categories: CategoryConfig,
    now: datetime,
    previous: int | None,
    zone: Zone | None = None,
) -> Case:
    cat = categories.for_class(group.class_name)
    status = lifecycle.EXCLUDED if zone is not None else lifecycle.NEW
    case = Case(
        class_name=group.class_name,
        service_code=cat.service_code,
        service_name=cat.service_name,
        category=cat.category,
        status=status,
        zone_id=zone.id if zone is not None else None,
        position_error_m=group.position_error_m,
        lat=group.lat,
        lon=group.lon,
        grid_key=dedupe.grid_key(group.lat, group.lon),
        size_m=group.size_m,
        score=group.score,
        first_seen=now,  # replaced by the sightings' own times in _add_group
        last_seen=now,
        sightings_count=0,
        flights_count=0,
        previous_case_id=previous,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    note = f"seen again after case {previous} was closed" if previous else None
    if zone is not None:
        note = f"inside exclusion zone {zone.id} ({zone.name}: {zone.reason}): kept as evidence, no case"
    lifecycle.record_event(
        session,
        case,
        "open",
        lifecycle.SYSTEM_ACTOR,
        now,
        to_status=status,
        flight_id=group.best.flight_id,
        note=note,
    )
    return case


def _add_group(
    session: Session,
    case: Case,
    group: dedupe.SightingGroup,
    frames: dict[str, Frame],
    data_root: Path,
    local_tz: str,
    now: datetime,
    first_on_flight: bool,
) -> None:
    rows = []
    for s in group.sightings:
        path, digest = store_evidence(data_root, s)
        x0, y0, x1, y1 = s.xyxy_px
        rows.append(
            SightingRow(
                key=sighting_key(s),
                case_id=case.id,
                frame_id=frames[s.frame_path].id,
                flight_id=s.flight_id,
                class_name=s.class_name,
                score=s.score,
                x0_px=x0,
                y0_px=y0,
                x1_px=x1,
                y1_px=y1,
                lat=s.lat,
                lon=s.lon,
                footprint=[[lat, lon] for lat, lon in s.footprint] or None,
                size_m=s.size_m,
                seen_at=parse_time(s.seen_at, local_tz),
                evidence_path=path,
                evidence_sha256=digest,
                position_error_m=s.position_error_m,
            )
        )
    session.add_all(rows)
    session.flush()
    fresh_case = case.sightings_count == 0
    n_old, n_new = case.sightings_count, len(rows)
    if not fresh_case:  # the position settles as sightings accumulate
        case.lat = (case.lat * n_old + group.lat * n_new) / (n_old + n_new)
        case.lon = (case.lon * n_old + group.lon * n_new) / (n_old + n_new)
        case.grid_key = dedupe.grid_key(case.lat, case.lon)
    times = [r.seen_at for r in rows]
    case.first_seen = min(times) if fresh_case else min(case.first_seen, *times)
    case.last_seen = max(times) if fresh_case else max(case.last_seen, *times)
    case.sightings_count = n_old + n_new
    case.flights_count += 1 if first_on_flight else 0
    if group.size_m is not None:
        case.size_m = group.size_m if case.size_m is None else max(case.size_m, group.size_m)
    best = rows[0]  # group sightings come best first
    if fresh_case or best.score > case.score or (case.evidence_path is None and best.evidence_path):
        case.score = max(case.score, best.score) if not fresh_case else best.score
        case.best_sighting_id = best.id
        case.evidence_path, case.evidence_sha256 = best.evidence_path, best.evidence_sha256
        case.frame_path = frames[group.best.frame_path].path
    case.updated_at = now
    if not fresh_case:
        lifecycle.record_event(
            session,
            case,
            "sighted",
            lifecycle.SYSTEM_ACTOR,
            now,
            flight_id=group.best.flight_id,
            note=f"{n_new} sightings",
        )


def _record_not_seen(
    session: Session,
    flight_id: str,
    usable: Sequence[FrameCoverage],
    frames: dict[str, Frame],
    seen_ids: set[int],
    categories: CategoryConfig,
    now: datetime,
    local_tz: str,
) -> list[Case]:
    """Cases this flight covered adequately and did not see: a `not_seen` event and their views; when the
    looks since it was last seen make its absence likely (coverage.absence_is_likely), "absent since",
    and for a resolved case the verification that it was cleared (核查通过). Coverage older than the case's
    last sighting says nothing about now and is skipped (a flight pushed late)."""
    footprints = [c.footprint for c in usable]
    if not footprints:
        return []
    # Per footprint, not the flight's bounding box: a long corridor flight would otherwise scan the city.
    ranges = dedupe.merge_ranges(r for fp in footprints for r in dedupe.key_ranges(fp))
    candidates: list[Case] = []
    for chunk in _chunks(ranges):
        cond = or_(*(and_(Case.grid_key >= lo, Case.grid_key <= hi) for lo, hi in chunk))
        candidates.extend(session.scalars(select(Case).where(cond, Case.status.in_(lifecycle.VERIFIABLE))))
    if not candidates:
        return []
    already: set[int] = set()
    for ids in _chunks([c.id for c in candidates]):
        already.update(
            session.scalars(
                select(CaseEvent.case_id).where(
                    CaseEvent.flight_id == flight_id,
                    CaseEvent.action == "not_seen",
                    CaseEvent.case_id.in_(ids),
                )
            )
        )
    by_id = {c.id: c for c in candidates}
    refs = [_ref(c) for c in candidates if c.id not in already]
    out: list[Case] = []
    hits = dedupe.cases_not_seen(
        refs, footprints, seen_ids, categories.merge_rules(), categories.default_rule()
    )
    for case_id, idx in hits:
        case = by_id[case_id]
        covered = _once(frames[usable[i].frame_path] for i in idx)
        covered = [f for f in covered if f.seen_at is None or f.seen_at > case.last_seen]
        if not covered:
            continue
        when = min((f.seen_at for f in covered if f.seen_at is not None), default=now)
        case.last_not_seen_at = now
        case.evidence_seen, case.evidence_covered = coverage.record_views(
            session, case, flight_id, covered, set()
        )
        case.evidence_seen = 0  # of this flight's views
        gone = coverage.absence_is_likely(session, case)
        if gone and case.absent_since is None:
            case.absent_since = when
        lifecycle.record_event(
            session,
            case,
            "not_seen",
            lifecycle.SYSTEM_ACTOR,
            now,
            flight_id=flight_id,
            note=_covered_note(covered),
        )
        if gone and case.status == lifecycle.RESOLVED and case.verified_cleared_at is None:
            case.verified_cleared_at = when
            lifecycle.record_event(
                session, case, "verified_cleared", lifecycle.SYSTEM_ACTOR, now, flight_id=flight_id
            )
        out.append(case)
    return out


def _once(frames: Iterable[Frame]) -> list[Frame]:
    """Each frame once, in order: a frame searched in pieces may hold an object in more than one."""
    return list({id(f): f for f in frames}.values())


def _covered_note(covered: Sequence[Frame]) -> str:
    first = Path(covered[0].path).name
    if len(covered) == 1:
        return f"covered by {first} and not seen"
    return f"covered by {first} and {len(covered) - 1} more frames and not seen"
