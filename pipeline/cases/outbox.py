"""The transactional outbox: confirmed cases out to the city's Open311 endpoint or a webhook.

A message is written in the same transaction as the case event it reports (`lifecycle.record_event`), so
nothing is pushed that did not happen and nothing that happened is lost. `push_outbox` drains it: each
message is POSTed with its `Idempotency-Key` header (one key per case event); 2xx marks it sent; a reply that
refuses the message itself (REFUSED: a bad payload, an unknown service code) marks it rejected, for a person
to look at, and the run goes on with other cases; anything else (the endpoint down, auth refused, throttled)
leaves it pending with exponential backoff and ends the run. Messages of one case go out in order: a message
waits while an earlier one of its case is pending or rejected. A receiver that honours the key sees each
event once even when a reply is lost and the message is sent again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from pipeline.cases.lifecycle import utcnow
from pipeline.cases.models import Case, OutboxMessage, QueueLock
from pipeline.cases.payloads import media_url

# Replies that refuse the message, not the sender: sending it again cannot help, and retrying it first would
# hold back every case behind it. (401/403/404 and 5xx say the endpoint or our credentials are wrong.)
REFUSED = frozenset({400, 413, 415, 422})


@dataclass(frozen=True)
class OutboxReport:
    sent: int
    failed: int
    pending: int  # still waiting after this run (failed ones included)
    last_error: str | None = None
    rejected: int = 0  # refused by the receiver in this run; held until `requeue_rejected`

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": self.failed,
            "rejected": self.rejected,
            "pending": self.pending,
            "last_error": self.last_error,
        }


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """Seconds to wait after the `attempts`-th failure: base, 2 x base, 4 x base, ... capped."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))


def _claim(
    session: Session, now: datetime, batch: int, in_flight_s: float
) -> list[tuple[int, str, dict[str, Any], int]]:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(QueueLock).where(QueueLock.name == "outbox").values(touched_at=now))
    earlier = aliased(OutboxMessage)
    waiting_behind = exists().where(
        earlier.case_id == OutboxMessage.case_id,
        earlier.state.in_(("pending", "rejected")),
        earlier.id < OutboxMessage.id,
    )
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.idempotency_key, OutboxMessage.payload, OutboxMessage.case_id)
        .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now, ~waiting_behind)
        .order_by(OutboxMessage.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    if rows:
        # Taken for this run: another pusher skips them until the lease passes (or this run settles them).
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([r[0] for r in rows]))
            .values(next_attempt_at=now + timedelta(seconds=in_flight_s))
            .execution_options(synchronize_session=False)
        )
    return [(r[0], r[1], dict(r[2]), r[3]) for r in rows]


def push_outbox(
    sessions: sessionmaker[Session],
    endpoint: str,
    *,
    token: str | None = None,
    media_base_url: str | None = None,
    client: httpx.Client | None = None,
    now_fn: Callable[[], datetime] = utcnow,
    batch: int = 100,
    base_backoff_s: float = 30.0,
    max_backoff_s: float = 3600.0,
    timeout_s: float = 10.0,
    in_flight_s: float = 300.0,
) -> OutboxReport:
    """Send what is due; stop at the first failure (the endpoint is likely down), leave the rest pending."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    own = client is None
    http = client or httpx.Client(timeout=timeout_s)
    sent = failed = rejected = 0
    last_error: str | None = None
    try:
        # Rounds, because a case's next event becomes due only once its previous one is sent.
        while not failed:
            with sessions.begin() as session:
                claimed = _claim(session, now_fn(), batch, in_flight_s)
            if not claimed:
                break
            ok_count, refused, error, refusal = _send(
                sessions,
                http,
                endpoint,
                headers,
                claimed,
                media_base_url,
                now_fn,
                base_backoff_s,
                max_backoff_s,
            )
            sent += ok_count
            rejected += refused
            failed += 1 if error else 0
            last_error = error or refusal or last_error
    finally:
        if own:
            http.close()
    with sessions() as session:
        pending = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "pending")
        )
    return OutboxReport(sent, failed, int(pending or 0), last_error, rejected)


def _send(
    sessions: sessionmaker[Session],
    http: httpx.Client,
    endpoint: str,
    headers: dict[str, str],
    claimed: list[tuple[int, str, dict[str, Any], int]],
    media_base_url: str | None,
    now_fn: Callable[[], datetime],
    base_backoff_s: float,
    max_backoff_s: float,
) -> tuple[int, int, str | None, str | None]:
    """POST one claimed batch in order; (how many went through, how many were refused, the error that stopped
    it or None, the last refusal or None)."""
    sent = refused = 0
    last_refusal: str | None = None
    held: set[int] = set()  # cases with a message refused in this batch: their later messages wait
    for pos, (msg_id, key, payload, case_id) in enumerate(claimed):
        if case_id in held:
            with sessions.begin() as session:
                session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == msg_id).values(next_attempt_at=now_fn())
                )
            continue
        if media_base_url:
            with sessions() as session:
                case = session.get(Case, case_id)
                if case is not None:
                    payload["request"]["media_url"] = media_url(case, media_base_url)
        status = 0
        try:
            reply = http.post(endpoint, json=payload, headers={**headers, "Idempotency-Key": key})
            status = reply.status_code
            error = None if 200 <= status < 300 else f"HTTP {status}: {reply.text[:200]}"
        except httpx.HTTPError as err:
            error = f"{type(err).__name__}: {err}"
        now = now_fn()
        with sessions.begin() as session:
            msg = session.get(OutboxMessage, msg_id)
            assert msg is not None
            msg.attempts += 1
            if error is None:
                msg.state, msg.sent_at, msg.last_error = "sent", now, None
                sent += 1
                continue
            msg.last_error = error
            if status in REFUSED:
                msg.state = "rejected"
                held.add(case_id)
                refused += 1
                last_refusal = f"message {msg_id} (case {case_id}) refused: {error}"
                continue
            msg.next_attempt_at = now + timedelta(
                seconds=backoff_s(msg.attempts, base_backoff_s, max_backoff_s)
            )
            # The rest of the batch was not tried: hand it back for the next run, in order.
            rest = [m for m, *_ in claimed[pos + 1 :]]
            if rest:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(rest))
                    .values(next_attempt_at=msg.next_attempt_at)
                    .execution_options(synchronize_session=False)
                )
        return sent, refused, error, last_refusal
    return sent, refused, None, last_refusal


def requeue_rejected(session: Session, now: datetime) -> int:
    """Put every refused message back in line (once the payload or the receiver has been fixed)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.state == "rejected")
        .values(state="pending", next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def outbox_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all()
    return {str(state): int(n) for state, n in rows}
