"""`patrol demo`: what the pipeline can tell about each sample flight so far — per frame, its metadata and
where on the ground it looks."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pipeline import filekinds, geo
from pipeline.errors import PipelineError
from pipeline.types import CameraView, ImageMeta


def flight_dirs(roots: list[Path]) -> list[Path]:
    """Each root itself if it holds media, else its sub-folders that do, in name order."""
    found: list[Path] = []
    for root in roots:
        if not root.is_dir():
            raise PipelineError("not a folder", str(root))
        if _has_media(root):
            found.append(root)
        else:
            found.extend(d for d in sorted(root.iterdir()) if d.is_dir() and _has_media(d))
    return found


def _has_media(folder: Path) -> bool:
    """Whether the folder holds a photo or a video, by content (`pipeline.filekinds`, as ingest decides)."""
    from pipeline.ingest import media_kind

    media = (filekinds.JPEG, filekinds.VIDEO)
    return any(p.is_file() and media_kind(p)[0] in media for p in folder.iterdir())


def frame_record(meta: ImageMeta) -> dict[str, Any]:
    """A frame's metadata, and where it looks on the ground, or why that is unknown."""
    from pipeline.frames import view_for_meta

    record: dict[str, Any] = meta.as_dict()
    try:
        view = view_for_meta(meta)
        width, height = view.intrinsics.width_px, view.intrinsics.height_px
        corners = geo.ground_polygon(view, (0, 0, width, height), per_side=1)
        centre = geo.pixel_to_ground(view, width / 2, height / 2)
        record.update(
            focal_px=view.intrinsics.focal_px,
            intrinsics_source=view.intrinsics.source,
            centre_gsd_m=centre_gsd_m(view),
            footprint=[[lat, lon] for lat, lon in corners],
            footprint_area_m2=geo.polygon_area_m2(geo.frame_footprint(view)),
            centre_lat=centre.lat,
            centre_lon=centre.lon,
            notes=list(view.notes),
        )
    except PipelineError as err:
        record["error"] = str(err)
    return record


def centre_gsd_m(view: CameraView) -> float:
    """Ground metres spanned by one pixel step to the right at the image centre."""
    cx, cy = view.intrinsics.width_px / 2, view.intrinsics.height_px / 2
    a = geo.pixel_to_ground(view, cx, cy)
    b = geo.pixel_to_ground(view, cx + 1, cy)
    return geo.distance_m(a.lat, a.lon, b.lat, b.lon)


def flight_records(folder: Path) -> list[dict[str, Any]]:
    """One record per frame `patrol process` would look at (the one ingest: photos, and video frames sampled
    by ground distance with their poses from the telemetry by time), then one per file it leaves out."""
    from pipeline.ingest import frame_meta, plan_flight

    plan = plan_flight(folder)
    records = []
    for ref in plan.frames:
        try:
            meta, why = frame_meta(ref)
        except PipelineError as err:
            records.append({"path": ref.name, "error": str(err)})
            continue
        records.append(frame_record(meta) if meta is not None else {"path": ref.name, "error": why})
    records += [{"path": path, "error": f"{path}: {reason}"} for path, reason in plan.skipped]
    return records


def truth_summary(folder: Path) -> str:
    truth = folder / "truth.geojson"
    if not truth.exists():
        return "no truth.geojson"
    features = json.loads(truth.read_text(encoding="utf-8")).get("features", [])
    counts = Counter(f.get("properties", {}).get("class", "?") for f in features)
    return (
        f"truth: {len(features)} targets (" + ", ".join(f"{n} {c}" for c, n in sorted(counts.items())) + ")"
    )


def _line(record: dict[str, Any]) -> str:
    name = Path(str(record["path"])).name
    if "footprint" not in record:
        return f"  {name}: {record.get('error', 'no footprint')}"
    g_lat, g_lon = geo.wgs84_to_gcj02(record["centre_lat"], record["centre_lon"])
    head = (
        f"  {name}  {record.get('model') or '?'} {record['width']}x{record['height']}  "
        f"{record.get('captured_at') or ''}\n"
        f"    GPS {record['lat']:.7f}, {record['lon']:.7f}  {record['rel_alt_m']:.1f} m above take-off  "
        f"gimbal yaw {record['gimbal_yaw_deg'] if record['gimbal_yaw_deg'] is not None else '-'} "
        f"pitch {record['gimbal_pitch_deg'] if record['gimbal_pitch_deg'] is not None else '-'}\n"
        f"    camera {record['focal_px']:.1f} px focal ({record['intrinsics_source']}), "
        f"{record['centre_gsd_m'] * 100:.2f} cm/px at the centre\n"
        f"    looks at {record['centre_lat']:.7f}, {record['centre_lon']:.7f} "
        f"(GCJ-02 {g_lat:.7f}, {g_lon:.7f}); "
        f"footprint {record['footprint_area_m2'] / 1e4:.2f} ha, corners "
        + " ".join(f"({a:.6f},{b:.6f})" for a, b in record["footprint"])
    )
    extra = [f"    note: {n}" for n in record.get("notes", [])]
    extra += [f"    problem: {p}" for p in record.get("problems", [])]
    return "\n".join([head, *extra])


def run_demo(roots: list[Path], as_json: bool = False, db_url: str | None = None) -> int:
    """Each flight's frames and footprints; then (human-readable mode) the flights through detection into
    a case database. `--json` keeps to the per-frame records, one object per line."""
    folders = flight_dirs(roots)
    if not folders:
        raise PipelineError("no flight folders with photos or video", ", ".join(map(str, roots)))
    for folder in folders:
        records = flight_records(folder)
        if as_json:
            for record in records:
                print(json.dumps({"flight": str(folder), **record}, ensure_ascii=False))
            continue
        print(f"== {folder}  {len(records)} frames shown; {truth_summary(folder)}")
        for record in records:
            print(_line(record))
        print()
    if as_json:
        return 0
    # Through the command module that may reach flows/ (lazily): the demo itself stays free of Prefect.
    from pipeline.process_commands import demo_cases

    return demo_cases(folders, db_url)
