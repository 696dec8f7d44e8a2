"""The sign-in limit and sessions in the database, on SQLite and PostgreSQL: concurrent attempts from threads
(each with its own connection, as two app processes would have) check at most the limit."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from pipeline.cases import signins
from pipeline.cases.lifecycle import utcnow
from pipeline.cases.users import add_user, remove_user, set_disabled, set_password

LIMITS = signins.SigninLimits(per_name_address=5, per_address=20, per_name=20, window_s=900)


def test_concurrent_attempts_check_at_most_the_limit(sessions: sessionmaker[Session]) -> None:
    start = threading.Barrier(31)
    results: list[signins.Attempt | signins.Refused] = []

    def one() -> None:
        start.wait()
        results.append(signins.begin_attempt(sessions, "203.0.113.1", "wang", LIMITS))

    threads = [threading.Thread(target=one) for _ in range(31)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    checked = [r for r in results if isinstance(r, signins.Attempt)]
    assert len(results) == 31 and len(checked) == LIMITS.per_name_address
    refused = [r for r in results if isinstance(r, signins.Refused)]
    assert {r.key for r in refused} == {"name+address"} and all(r.retry_after_s > 0 for r in refused)


def test_the_window_passes(sessions: sessionmaker[Session]) -> None:
    then = utcnow() - timedelta(seconds=LIMITS.window_s - 10)
    for _ in range(LIMITS.per_name_address):
        attempt = signins.begin_attempt(sessions, "a", "wang", LIMITS, now=then)
        assert isinstance(attempt, signins.Attempt)
        signins.failed(sessions, attempt)
    refused = signins.begin_attempt(sessions, "a", "Wang ", LIMITS)  # names compare trimmed, any case
    assert isinstance(refused, signins.Refused) and 1 <= refused.retry_after_s <= 11
    later = utcnow() + timedelta(seconds=20)
    assert isinstance(signins.begin_attempt(sessions, "a", "wang", LIMITS, now=later), signins.Attempt)


def test_user_changes_end_sessions(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        user = add_user(s, "wang", "reviewer", password="a long passphrase")
        uid = user.id
        tokens = [signins.open_session(s, uid, 12.0) for _ in range(3)]
    with sessions.begin() as s:
        assert all(signins.session_user(s, t, uid) is not None for t in tokens)
        signins.end_session(s, tokens[0])
    with sessions.begin() as s:
        assert signins.session_user(s, tokens[0], uid) is None
        assert signins.session_user(s, tokens[1], uid) is not None
        assert signins.session_user(s, tokens[1], uid + 1) is None  # someone else's id in the cookie
        set_password(s, "wang", "another long passphrase")
    with sessions.begin() as s:
        assert signins.session_user(s, tokens[1], uid) is None
        token = signins.open_session(s, uid, 12.0)
        set_disabled(s, "wang", True)
    with sessions.begin() as s:
        assert signins.session_user(s, token, uid) is None
        set_disabled(s, "wang", False)
        token = signins.open_session(s, uid, 12.0)
        expired = signins.open_session(s, uid, -1.0)
        assert signins.session_user(s, expired, uid) is None
        remove_user(s, "wang")
    with sessions.begin() as s:
        assert signins.session_user(s, token, uid) is None
