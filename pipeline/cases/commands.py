"""`patrol cases ...` and `patrol users ...` (add, remove, disable, enable, passwd): the queue from the CLI.

Heavy imports (SQLAlchemy, httpx) happen inside the command functions, so other commands start fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from pipeline.config import Settings

ACTIONS = ("release", "confirm", "reject", "duplicate", "dispatch", "resolve", "close")


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj, ensure_ascii=False), flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    from pipeline.config import load_settings

    settings = load_settings()
    if args.db:
        settings = dataclasses.replace(settings, db_url=args.db)
    return settings


def _sessions(settings: Settings) -> sessionmaker[Session]:
    from pipeline.cases.db import open_db

    return open_db(settings.db_url)


def cmd_list(args: argparse.Namespace) -> int:
    from pipeline.cases.views import list_cases

    with _sessions(_settings(args))() as session:
        views = list_cases(session, statuses=args.status or (), class_name=args.class_name, limit=args.limit)
    for v in views:
        if args.json:
            _emit(v.as_dict())
        else:
            print(
                f"#{v.id:<6} {v.status:<10} {v.category:<8} score={v.score:.2f} sightings={v.sightings:<3} "
                f"last={v.last_seen} {v.lat:.6f},{v.lon:.6f}"
            )
    if not args.json:
        print(f"{len(views)} cases", file=sys.stderr)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from pipeline.cases.views import case_detail

    with _sessions(_settings(args))() as session:
        detail = case_detail(session, args.case_id)
    if args.json:
        _emit(detail)
        return 0
    for key, value in detail.items():
        if key in ("events", "sighting_list"):
            continue
        print(f"{key}: {'-' if value is None else value}")
    print("history:")
    for e in detail["events"]:
        change = f"{e['from'] or ''} -> {e['to']}" if e["to"] else ""
        extra = " ".join(
            x for x in (change, e["flight_id"] and f"flight {e['flight_id']}", e["note"] or "") if x
        )
        print(f"  {e['at']} {e['actor']}: {e['action']} {extra}")
    print(f"sightings: {len(detail['sighting_list'])}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pipeline.cases.exports import export
    from pipeline.cases.views import list_cases

    with _sessions(_settings(args))() as session:
        views = list_cases(session, statuses=args.status or (), class_name=args.class_name)
    body = export(views, args.format)
    if args.output:
        out = Path(args.output)
        try:
            out.write_bytes(body)
        except OSError as err:
            raise OSError(f"{out}: cannot write: {err.strerror or err}") from err
        if args.json:
            _emit({"output": str(out), "format": args.format, "cases": len(views)})
        else:
            print(f"wrote {len(views)} cases to {out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from pipeline.cases.lifecycle import utcnow
    from pipeline.cases.outbox import push_outbox, requeue_rejected
    from pipeline.errors import CaseError

    settings = _settings(args)
    endpoint = args.endpoint or settings.push_url
    if not endpoint:
        raise CaseError("no endpoint to push to: give --endpoint URL or set PATROL_PUSH_URL")
    if args.retry_rejected:
        with _sessions(settings).begin() as session:
            requeued = requeue_rejected(session, utcnow())
        if not args.json:
            print(f"put {requeued} refused message(s) back in line")
    report = push_outbox(
        _sessions(settings), endpoint, token=settings.push_token, media_base_url=settings.media_base_url
    )
    if args.json:
        _emit(report.as_dict())
    else:
        print(
            f"sent {report.sent}, failed {report.failed}, refused {report.rejected}, pending {report.pending}"
        )
        if report.last_error:
            print(f"last error: {report.last_error}")
        if report.rejected:
            print("refused messages hold their case's later events: fix, then push --retry-rejected")
    return 1 if report.failed or report.rejected else 0


def cmd_claim(args: argparse.Namespace) -> int:
    from pipeline.cases import lifecycle
    from pipeline.cases.views import case_view

    # The review app's queue (filters and order), so that the CLI hands out what a reviewer would see first.
    from pipeline.review.queries import QueueFilter, claim_next

    settings = _settings(args)
    queue = QueueFilter(class_name=args.class_name, sort=args.sort, evidence=args.evidence)
    queue.check()
    view = None
    for attempt in range(3):  # a race lost to another claimer is simply tried again, as the app does
        try:
            with _sessions(settings).begin() as session:
                case = claim_next(session, queue, args.user, lease_s=settings.lease_s)
                view = case_view(case).as_dict() if case else None
            break
        except lifecycle.CaseChanged:
            if attempt == 2:
                raise
    if args.json:
        _emit(view or {"id": None})
    else:
        print(f"claimed case #{view['id']} for {args.user}" if view else "no claimable case in this queue")
    return 0


def cmd_act(args: argparse.Namespace) -> int:
    from pipeline.cases import lifecycle
    from pipeline.cases.views import case_view
    from pipeline.errors import CaseError

    with _sessions(_settings(args)).begin() as session:
        if args.action == "duplicate":
            if args.of is None:
                raise CaseError(f"case {args.case_id}: duplicate needs --of CASE_ID")
            case = lifecycle.mark_duplicate(session, args.case_id, args.of, args.user)
        elif args.action == "reject":
            case = lifecycle.reject(session, args.case_id, args.user, args.note or "")
        elif args.action == "release":
            case = lifecycle.release(session, args.case_id, args.user)
        else:
            func = getattr(lifecycle, args.action)
            case = func(session, args.case_id, args.user, note=args.note)
        view = case_view(case).as_dict()
    if args.json:
        _emit(view)
    else:
        print(f"case #{view['id']} is now {view['status']}")
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    from pipeline.cases.users import add_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    with _sessions(_settings(args)).begin() as session:
        user = add_user(session, args.name, args.role, display_name=args.display_name, password=password)
        record = {"id": user.id, "name": user.name, "role": user.role, "display_name": user.display_name}
    if args.json:
        _emit(record)
    else:
        print(f"added {record['role']} {record['name']} (id {record['id']})")
    return 0


def _user_record(user: Any) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "role": user.role,
        "display_name": user.display_name,
        "disabled": bool(user.disabled),
    }


def cmd_users_change(args: argparse.Namespace) -> int:
    """remove, disable, enable, passwd: each ends the user's sessions (enable has none to end)."""
    from pipeline.cases import users
    from pipeline.cases.signins import end_user_sessions
    from pipeline.errors import CaseError

    password = None
    if args.users_command == "passwd":
        if not args.password_stdin:
            raise CaseError("passwd reads the new password from stdin: give --password-stdin")
        password = sys.stdin.readline().rstrip("\n")
    with _sessions(_settings(args)).begin() as session:
        ended = end_user_sessions(session, users.get_user(session, args.name).id)
        if args.users_command == "remove":
            user = users.remove_user(session, args.name)
        elif args.users_command in ("disable", "enable"):
            user = users.set_disabled(session, args.name, args.users_command == "disable")
        else:
            assert password is not None
            user = users.set_password(session, args.name, password)
        record = {**_user_record(user), "action": args.users_command, "sessions_ended": ended}
    if args.json:
        _emit(record)
    else:
        done = {"remove": "removed", "disable": "disabled", "enable": "enabled", "passwd": "new password for"}
        print(f"{done[args.users_command]} {record['name']}; {ended} sessions ended")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output, one JSON object per line")
    p.add_argument(
        "--db", default=None, help="case database URL (default PATROL_DB_URL, else SQLite under var/)"
    )


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", action="append", metavar="STATE", help="only cases in this state (repeatable)")
    p.add_argument(
        "--class", dest="class_name", default=None, metavar="CLASS", help="only this detector class"
    )


def register(subparsers: Any) -> None:
    cases = subparsers.add_parser("cases", help="the case queue: list, show, export, push, review")
    sub = cases.add_subparsers(dest="cases_command", required=True)

    p = sub.add_parser("list", help="list cases, oldest first")
    _filters(p)
    p.add_argument("--limit", type=int, default=None)
    _common(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="one case with its history and sightings")
    p.add_argument("case_id", type=int, metavar="CASE_ID")
    _common(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("export", help="cases as GeoJSON, CSV (Excel) or KML")
    p.add_argument("--format", required=True, choices=("geojson", "csv", "kml"))
    p.add_argument("--output", default=None, metavar="FILE", help="write here instead of stdout")
    _filters(p)
    _common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("push", help="send pending confirmed-case events to the city's endpoint (outbox)")
    p.add_argument("--endpoint", default=None, metavar="URL", help="default PATROL_PUSH_URL")
    p.add_argument(
        "--retry-rejected", action="store_true", help="first put messages the receiver refused back in line"
    )
    _common(p)
    p.set_defaults(func=cmd_push)

    p = sub.add_parser(
        "claim", help="take the first claimable case of the review queue, in the review app's order"
    )
    p.add_argument("--user", required=True)
    p.add_argument(
        "--class", dest="class_name", default=None, metavar="CLASS", help="only this detector class"
    )
    p.add_argument(
        "--sort", default="priority", metavar="SORT", help="priority (default), score or last_seen"
    )
    p.add_argument(
        "--evidence",
        default="strong",
        metavar="VIEW",
        help="strong (default: the morning queue), low (the held-back cases) or all",
    )
    _common(p)
    p.set_defaults(func=cmd_claim)

    p = sub.add_parser("act", help="move a case along its lifecycle")
    p.add_argument("case_id", type=int, metavar="CASE_ID")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("--user", required=True)
    p.add_argument("--note", default=None, help="a note; the reason, for reject")
    p.add_argument(
        "--of", type=int, default=None, metavar="CASE_ID", help="for duplicate: the case it repeats"
    )
    _common(p)
    p.set_defaults(func=cmd_act)

    users = subparsers.add_parser("users", help="review app users")
    usub = users.add_subparsers(dest="users_command", required=True)
    p = usub.add_parser("add", help="add a user")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", default="reviewer", choices=("pilot", "reviewer", "supervisor", "admin"))
    p.add_argument("--display-name", default="")
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    _common(p)
    p.set_defaults(func=cmd_users_add)
    for command, what in (
        ("remove", "delete a user (their case history keeps the name) and end their sessions"),
        ("disable", "stop a user signing in and end their sessions"),
        ("enable", "let a disabled user sign in again"),
        ("passwd", "set a user's password (from stdin) and end their sessions"),
    ):
        p = usub.add_parser(command, help=what)
        p.add_argument("name", metavar="NAME")
        if command == "passwd":
            p.add_argument(
                "--password-stdin", action="store_true", help="read the password from the first line of stdin"
            )
        _common(p)
        p.set_defaults(func=cmd_users_change)
