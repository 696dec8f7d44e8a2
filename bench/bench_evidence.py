"""Case evidence over three nights of one simulated world: is the morning queue right, is "new" new, is
"absent" absent, and is the stated position error true? Also fits the confidence rule.

Run:  PYTHONPATH=. .venv/bin/python bench/bench_evidence.py [--world 9101] [--out var/bench/evidence]
      PYTHONPATH=. .venv/bin/python bench/bench_evidence.py --world 9102 --fit   (prints a fitted rule)

Each night flies a nadir mapping flight (100 m, 24 photos) and a -45 degree corridor (14 photos; 60, 90 and
130 m over the nights, turning 45 degrees each night) over the same ground, with 1 m of GNSS noise per
axis; the world's targets appear, grow and are cleared between nights as the simulator gives them lives.
Every night is processed with `patrol process` (today's shipped detector) into one SQLite case database,
in the order flown. Then the cases are scored against the world's own targets:

- queue: cases not low-evidence and not excluded are the morning queue; a case is true when it lies within
  max(5 m, half the target's extent + 3 m) of a target of its class that was standing while it was seen;
  recall counts targets that were in some frame's labels; cases per object are counted per matched target;
- new since: a case tagged new is right when its target was born after the first night (and was standing
  on the night the case was first seen); recall over born-later targets that have a queue case;
- absent: a case with `absent_since` is wrong when a target still stands there (a false detection's case
  going absent is right: nothing is there); recall over targets cleared during the nights whose case
  exists;
- position: per (case, flight), the sightings' average position against the target's centroid, split by
  nadir and oblique flights, and whether the stated error covers it.

Ablations re-push the same frame records (no detection) into fresh databases: the old fixed 8 m radius
with no stated errors, and the queue without the evidence rule.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import case as when
from sqlalchemy import func, select

from pipeline import dedupe, geo
from pipeline.cases.db import open_db
from pipeline.cases.evidence_rule import DEFAULT_RULE, EvidenceRule
from pipeline.cases.models import Case, CaseViewRow, Frame, SightingRow
from pipeline.simulate import FlightSettings, simulate_flight
from pipeline.simulate.texture import TextureSource, make_lighting
from pipeline.simulate.world import make_world, polygon_centroid

NIGHTS = (0, 1, 2)
ORIGIN = (22.98, 113.74)
GPS_NOISE_M = 1.0
NADIR_FRAMES = 24
OBLIQUE_FRAMES = 14


@dataclass(frozen=True)
class Target:
    id: str
    cls: str
    east: float
    north: float
    extent_m: float
    born: int
    cleared: int | None


def flights(world: int) -> list[tuple[int, str, FlightSettings]]:
    """(night, kind, settings); seeds share one remainder mod 200 so that nights fall on consecutive days."""
    out = []
    for night in NIGHTS:
        base = 200 * (2 * night + 1) + world % 200
        out.append(
            (
                night,
                "nadir",
                FlightSettings(
                    seed=base, world_seed=world, night=night, frames=NADIR_FRAMES, altitude_m=100.0,
                    pitch_deg=-90.0, heading_deg=0.0, gps_noise_m=GPS_NOISE_M, lat=ORIGIN[0], lon=ORIGIN[1],
                ),
            )
        )  # fmt: skip
        out.append(
            (
                night,
                "oblique",
                FlightSettings(
                    seed=base + 200, world_seed=world, night=night, frames=OBLIQUE_FRAMES,
                    altitude_m=(60.0, 90.0, 130.0)[night], pitch_deg=-45.0, heading_deg=45.0 * night,
                    gps_noise_m=GPS_NOISE_M, lat=ORIGIN[0], lon=ORIGIN[1],
                ),
            )
        )  # fmt: skip
    return out


def targets(world: int) -> dict[str, Target]:
    w = make_world(world, ORIGIN[0], ORIGIN[1])
    found: dict[str, Target] = {}
    for night in NIGHTS:
        src = TextureSource(w, night, make_lighting(0), 0.1)
        for obj in src.objects((-700.0, -700.0, 700.0, 700.0)):
            if obj.cls is None or obj.id in found:
                continue
            e, n = polygon_centroid(obj.footprint)
            fp = obj.footprint
            extent = float(np.max(np.hypot(*(fp[:, None, :] - fp[None, :, :]).transpose(2, 0, 1))))
            found[obj.id] = Target(obj.id, obj.cls, e, n, extent, obj.born_night, obj.cleared_night)
    return found


def labelled(out: Path, world: int) -> dict[str, set[int]]:
    """Target id -> nights on which some frame labelled it."""
    seen: dict[str, set[int]] = defaultdict(set)
    for night, kind, _ in flights(world):
        truth = json.loads((out / f"n{night}_{kind}" / "truth.geojson").read_text())
        for feat in truth["features"]:
            if feat["properties"]["frames"]:
                seen[feat["properties"]["id"]].add(night)
    return seen


def simulate(out: Path, world: int) -> None:
    for night, kind, settings in flights(world):
        folder = out / f"n{night}_{kind}"
        if (folder / "manifest.json").exists():
            continue
        started = time.perf_counter()
        simulate_flight(folder, settings)
        print(f"simulated {folder.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def process(out: Path, world: int, db: Path) -> float:
    env = {**os.environ, "PATROL_DATA_ROOT": str(out / "data"), "PATROL_DB_URL": f"sqlite:///{db}"}
    started = time.perf_counter()
    for night in NIGHTS:
        dirs = [str(out / f"n{night}_{kind}") for n, kind, _ in flights(world) if n == night]
        run = subprocess.run(
            [str(Path(sys.executable).with_name("patrol")), "process", "--db", f"sqlite:///{db}", *dirs],
            env=env,
            capture_output=True,
            text=True,
        )
        if run.returncode not in (0,):
            print(run.stdout[-3000:], run.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"patrol process failed on night {night} (exit {run.returncode})")
    return time.perf_counter() - started


def _gone(t: Target | None) -> bool:
    """Cleared before the last night flown."""
    return t is not None and t.cleared is not None and t.cleared <= max(NIGHTS)


def _en(lat: float, lon: float) -> tuple[float, float]:
    return geo.latlon_offset(ORIGIN[0], ORIGIN[1], lat, lon)


def _night_of(flight_id: str, folders: dict[str, tuple[int, str]]) -> tuple[int, str]:
    for name, nk in folders.items():
        if name in flight_id:
            return nk
    raise KeyError(flight_id)


def score(db: Path, out: Path, world: int, rule: EvidenceRule | None = DEFAULT_RULE) -> dict[str, Any]:
    """Every figure of the module docstring for one database (rule None: every case in the queue)."""
    truth = targets(world)
    seen_nights = labelled(out, world)
    sessions = open_db(f"sqlite:///{db}")
    folders = {f"n{n}_{k}": (n, k) for n, k, _ in flights(world)}
    with sessions() as s:
        cases = list(s.scalars(select(Case)))
        totals = {
            cid: (int(seen or 0), int(cov))
            for cid, seen, cov in s.execute(
                select(
                    CaseViewRow.case_id, func.sum(when((CaseViewRow.seen, 1), else_=0)), func.count()
                ).group_by(CaseViewRow.case_id)
            )
        }
        rows = list(s.execute(select(SightingRow, Frame.path).join(Frame, Frame.id == SightingRow.frame_id)))
        frame_footprints = list(s.scalars(select(Frame.footprint)))
    first_night: dict[int, int] = {}
    per_flight: dict[tuple[int, str], list[SightingRow]] = defaultdict(list)
    for sighting, _path in rows:
        night, _ = _night_of(sighting.flight_id, folders)
        first_night[sighting.case_id] = min(first_night.get(sighting.case_id, 99), night)
        per_flight[(sighting.case_id, sighting.flight_id)].append(sighting)

    def match(case: Case) -> Target | None:
        e, n = _en(case.lat, case.lon)
        night = first_night.get(case.id, 0)
        best: tuple[float, Target] | None = None
        for t in truth.values():
            if t.cls != case.class_name or t.born > night:
                continue
            d = math.hypot(e - t.east, n - t.north)
            if d <= max(5.0, 0.5 * t.extent_m + 3.0) and (best is None or d < best[0]):
                best = (d, t)
        return best[1] if best else None

    features, labels = [], []
    queue, low, excluded = [], [], []
    matched: dict[int, Target | None] = {}
    for c in cases:
        matched[c.id] = match(c)
        seen, cov = totals.get(c.id, (0, 0))
        features.append(EvidenceRule().features(c.score, seen, cov, c.position_error_m))
        labels.append(matched[c.id] is not None)
        if c.status == "excluded":
            excluded.append(c)
        elif rule is not None and rule.is_low(rule.confidence(c.score, seen, cov, c.position_error_m)):
            low.append(c)
        else:
            queue.append(c)
    # Findable: some frame's searched ground held the target whole (the product's own "covered adequately").
    footprints = [[tuple(p) for p in fp] for fp in frame_footprints if fp]
    findable = {
        tid
        for tid in seen_nights
        if tid in truth
        and dedupe.covering(*geo.offset_latlon(ORIGIN[0], ORIGIN[1], truth[tid].east, truth[tid].north),
                            0.5 * truth[tid].extent_m + 1.0, footprints)
    }  # fmt: skip
    detected = set()
    for sighting, _path in rows:
        e, n = _en(sighting.lat, sighting.lon)
        for t in truth.values():
            near = math.hypot(e - t.east, n - t.north) <= max(5.0, 0.5 * t.extent_m + 3.0)
            if t.cls == sighting.class_name and near:
                detected.add(t.id)
    true_queue = [c for c in queue if matched[c.id] is not None]
    found = {matched[c.id].id for c in true_queue}  # type: ignore[union-attr]
    per_object: dict[str, int] = defaultdict(int)
    for c in true_queue:
        per_object[matched[c.id].id] += 1  # type: ignore[union-attr]

    # new since
    tagged_new = [c for c in queue if c.new_since is not None]
    new_right = [c for c in tagged_new if (t := matched[c.id]) is not None and t.born > 0]
    born_later = {t for t in found if truth[t].born > 0}
    new_found = {matched[c.id].id for c in new_right}  # type: ignore[union-attr]
    # absent
    absent = [c for c in cases if c.absent_since is not None and matched[c.id] is not None]
    absent_false = [c for c in cases if c.absent_since is not None and matched[c.id] is None]
    absent_right = [c for c in absent if _gone(matched[c.id])]
    cleared_cases = {matched[c.id].id for c in cases if _gone(matched[c.id])}  # type: ignore[union-attr]
    absent_found = {matched[c.id].id for c in absent_right}  # type: ignore[union-attr]
    # position per (case, flight)
    errs: dict[str, list[float]] = defaultdict(list)
    covers: dict[str, list[bool]] = defaultdict(list)
    for (case_id, flight_id), sights in per_flight.items():
        t = next((matched[c.id] for c in cases if c.id == case_id), None)
        if t is None:
            continue
        _, kind = _night_of(flight_id, folders)
        w = [s.score for s in sights]
        lat = sum(s.lat * x for s, x in zip(sights, w, strict=True)) / sum(w)
        lon = sum(s.lon * x for s, x in zip(sights, w, strict=True)) / sum(w)
        e, n = _en(lat, lon)
        err = math.hypot(e - t.east, n - t.north)
        errs[kind].append(err)
        stated = min((s.position_error_m for s in sights if s.position_error_m is not None), default=None)
        if stated is not None:
            covers[kind].append(err <= stated)
    case_errs = [
        math.hypot(*np.subtract(_en(c.lat, c.lon), (matched[c.id].east, matched[c.id].north)))  # type: ignore[union-attr]
        for c in true_queue
    ]
    case_cover = [e <= (c.position_error_m or 0.0) for e, c in zip(case_errs, true_queue, strict=True)]

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    return {
        "cases": len(cases),
        "queue": len(queue),
        "low_evidence": len(low),
        "low_evidence_true": sum(1 for c in low if matched[c.id] is not None),
        "excluded": len(excluded),
        "queue_precision": ratio(len(true_queue), len(queue)),
        "queue_recall": ratio(len(found), len(findable)),
        "targets_findable": len(findable),
        "detector_recall": ratio(len(detected & findable), len(findable)),
        "cases_per_object": ratio(sum(per_object.values()), len(per_object)),
        "new_precision": ratio(len(new_right), len(tagged_new)),
        "new_recall": ratio(len(new_found & born_later), len(born_later)),
        "new_tagged": len(tagged_new),
        "born_later_found": len(born_later),
        "absent_precision": ratio(len(absent_right) + len(absent_false), len(absent) + len(absent_false)),
        "absent_claims": len(absent) + len(absent_false),
        "absent_recall": ratio(len(absent_found), len(cleared_cases)),
        "cleared_with_case": len(cleared_cases),
        "median_error_nadir_m": round(float(np.median(errs["nadir"])), 2) if errs["nadir"] else None,
        "median_error_oblique_m": round(float(np.median(errs["oblique"])), 2) if errs["oblique"] else None,
        "stated_covers_nadir": ratio(sum(covers["nadir"]), len(covers["nadir"])),
        "stated_covers_oblique": ratio(sum(covers["oblique"]), len(covers["oblique"])),
        "median_error_cases_m": round(float(np.median(case_errs)), 2) if case_errs else None,
        "stated_covers_cases": ratio(sum(case_cover), len(case_cover)),
        "_features": features,
        "_labels": labels,
    }


def fit(features: list[tuple[float, float, float]], labels: list[bool]) -> EvidenceRule:
    """Logistic regression by Newton's method (a small ridge keeps it finite on separable data); the
    threshold is the highest that keeps 95 % of the true cases."""
    x = np.column_stack([np.ones(len(features)), np.array(features)])
    y = np.array(labels, dtype=float)
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-x @ w))
        grad = x.T @ (p - y) + 0.1 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + 0.1 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    conf = 1.0 / (1.0 + np.exp(-x @ w))
    true_conf = np.sort(conf[y == 1])
    threshold = float(true_conf[math.floor(0.05 * len(true_conf))]) if len(true_conf) else 0.5
    return EvidenceRule(
        bias=round(float(w[0]), 3),
        w_score=round(float(w[1]), 3),
        w_consistency=round(float(w[2]), 3),
        w_views=round(float(w[3]), 3),
        w_error=round(float(w[4]), 3),
        low_below=round(threshold - 1e-3, 3),
    )


def repush(db: Path, out_db: Path, *, drop_errors: bool = False, error_factor: float | None = None) -> None:
    """The frame records of `db` pushed again, flights in time order, into a fresh database with today's
    code (no detection): the configuration under test, or an ablation of it."""
    from pipeline.cases.categories import load_categories
    from pipeline.cases.ingest import push_sightings
    from pipeline.cases.models import ProcessedFrame
    from pipeline.process import coverage_from_json, sighting_from_json

    src = open_db(f"sqlite:///{db}")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{out_db}{suffix}").unlink(missing_ok=True)
    dst = open_db(f"sqlite:///{out_db}")
    cats = load_categories()
    if error_factor is not None:
        cats = replace(cats, error_factor=error_factor)
    with src() as s:
        records = list(s.scalars(select(ProcessedFrame).where(ProcessedFrame.status == "done")))
    by_flight: dict[str, list[ProcessedFrame]] = defaultdict(list)
    for r in records:
        by_flight[r.flight_id].append(r)
    order = sorted(by_flight, key=lambda f: min(r.created_at for r in by_flight[f]))
    for flight_id in order:
        sightings, coverage = [], []
        for r in by_flight[flight_id]:
            result = r.result or {}
            for d in result.get("sightings", []):
                sig = sighting_from_json(d)
                sightings.append(replace(sig, position_error_m=None) if drop_errors else sig)
            if (c := result.get("coverage")) is not None:
                coverage.append(coverage_from_json(c))
        with dst.begin() as session:
            push_sightings(session, sightings, frames=coverage, categories=cats, data_root=db.parent / "data")


FIGURES = (
    "cases", "queue", "low_evidence", "low_evidence_true", "queue_precision", "queue_recall",
    "detector_recall", "targets_findable", "cases_per_object", "new_tagged", "new_precision",
    "new_recall", "absent_claims", "absent_precision", "absent_recall", "median_error_nadir_m",
    "median_error_oblique_m", "stated_covers_nadir", "stated_covers_oblique", "median_error_cases_m",
    "stated_covers_cases",
)  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", type=int, default=9101)
    ap.add_argument("--out", type=Path, default=Path("var/bench/evidence"))
    ap.add_argument("--fit", action="store_true", help="fit the confidence rule on this world and print it")
    args = ap.parse_args()
    out = args.out / f"w{args.world}"
    out.mkdir(parents=True, exist_ok=True)
    simulate(out, args.world)
    db = out / "cases.db"  # what `patrol process` wrote: the frame records every variant starts from
    seconds = process(out, args.world, db) if not db.exists() else None
    variants = {
        "today": {},
        "fixed 8 m radius, no stated errors": {"drop_errors": True},
        "error radius x 1.0": {"error_factor": 1.0},
    }
    rows: dict[str, dict[str, Any]] = {}
    for name, kw in variants.items():
        path = out / f"{name.split(',')[0].replace(' ', '_')}.db"
        repush(db, path, **kw)
        rows[name] = score(path, out, args.world)
        if name != "error radius x 1.0":  # the merge compared with and without the rule
            rows[f"{name}, no evidence rule"] = score(path, out, args.world, rule=None)
        if name == "today" and args.fit:
            rule = fit(rows[name]["_features"], rows[name]["_labels"])
            print(json.dumps({"fitted_rule": rule.__dict__, "cases": len(rows[name]["_labels"])}))
    print(json.dumps({"world": args.world, "process_s": seconds}))
    print("| variant | " + " | ".join(FIGURES) + " |")
    print("|---|" + "---|" * len(FIGURES))
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join("" if r[k] is None else str(r[k]) for k in FIGURES) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
