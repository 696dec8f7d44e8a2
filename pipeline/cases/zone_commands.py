"""`patrol zones import|list|remove`: ground where sightings raise no case (pipeline.cases.zones)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _sessions(args: argparse.Namespace) -> Any:
    from pipeline.cases.db import open_db
    from pipeline.config import load_settings

    return open_db(args.db or load_settings().db_url)


def _record(zone: Any) -> dict[str, Any]:
    from pipeline.cases.payloads import iso

    return {
        "id": zone.id,
        "name": zone.name,
        "reason": zone.reason,
        "class": zone.class_name,
        "source_case": zone.source_case_id,
        "created_by": zone.created_by,
        "created_at": iso(zone.created_at),
        "removed_by": zone.removed_by,
        "removed_at": iso(zone.removed_at),
        "polygon": zone.polygon,
    }


def cmd_import(args: argparse.Namespace) -> int:
    from pipeline.cases import lifecycle, zones

    shapes = zones.read_zone_file(Path(args.file))
    now = lifecycle.utcnow()
    with _sessions(args).begin() as session:
        added = [
            _record(zones.add_zone(session, shape, args.reason, args.user, now, class_name=args.class_name))
            for shape in shapes
        ]
    for rec in added:
        if args.json:
            print(json.dumps(rec, ensure_ascii=False))
        else:
            print(f"zone {rec['id']}: {rec['name']} ({rec['reason']})")
    if not args.json:
        print(f"{len(added)} zones imported from {args.file}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from pipeline.cases import zones

    with _sessions(args)() as session:
        found = [_record(z) for z in zones.list_zones(session, include_removed=args.all)]
    for rec in found:
        if args.json:
            print(json.dumps(rec, ensure_ascii=False))
        else:
            gone = f" removed by {rec['removed_by']}" if rec["removed_at"] else ""
            cls = rec["class"] or "all classes"
            print(f"zone {rec['id']}: {rec['name']} - {rec['reason']} ({cls}, by {rec['created_by']}){gone}")
    if not args.json:
        print(f"{len(found)} zones", file=sys.stderr)
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from pipeline.cases import lifecycle, zones

    with _sessions(args).begin() as session:
        rec = _record(zones.remove_zone(session, args.zone_id, args.user, lifecycle.utcnow()))
    print(json.dumps(rec, ensure_ascii=False) if args.json else f"zone {rec['id']} removed")
    return 0


def register(subparsers: Any) -> None:
    zones = subparsers.add_parser("zones", help="exclusion zones: ground where sightings raise no case")
    sub = zones.add_subparsers(dest="zones_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--json", action="store_true", help="machine-readable output, one JSON object per line"
        )
        p.add_argument("--db", default=None, help="case database URL (default PATROL_DB_URL)")

    p = sub.add_parser("import", help="add the polygons of a GeoJSON file as zones")
    p.add_argument("file", metavar="FILE.geojson")
    p.add_argument("--reason", required=True, help="why nothing there is a case (legal stacking yard, ...)")
    p.add_argument("--class", dest="class_name", default=None, metavar="CLASS", help="only this class")
    p.add_argument("--user", default="admin", help="who is adding them (kept with each zone)")
    common(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("list", help="the active zones")
    p.add_argument("--all", action="store_true", help="removed zones too")
    common(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("remove", help="remove a zone (it is kept, marked removed)")
    p.add_argument("zone_id", type=int, metavar="ZONE_ID")
    p.add_argument("--user", default="admin")
    common(p)
    p.set_defaults(func=cmd_remove)
