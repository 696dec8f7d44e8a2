"""The run's summaries count what the frames did: totals over flights, the frames not searched named, and
the JSON the CLI prints keeps DESIGN.md's names."""

from __future__ import annotations

import json

from pipeline.run_summary import (
    FrameOutcome,
    FrameStatus,
    LeftFlight,
    NightSummary,
    RunSummary,
    failed_flight,
    pushed_flight,
)

OUTCOMES = (
    FrameOutcome("a.jpg", FrameStatus.DONE, 3, 3),
    FrameOutcome("b.jpg", FrameStatus.DONE, 0, 0, not_searched="no usable pose"),
    FrameOutcome("c.jpg", FrameStatus.DONE, 2, 0, reused=True, not_placed="no GPS position"),
    FrameOutcome("d.jpg", FrameStatus.FAILED, 0, 0, error="d.jpg: not a JPEG"),
    FrameOutcome("e.jpg", FrameStatus.ERROR, 0, 0, error="e.jpg: RuntimeError: out of memory"),
)
PUSH = {"sightings_added": 3, "cases_new": 2, "cases_updated": 1, "not_seen": 0}


def test_a_pushed_flight_counts_its_frames_and_names_those_not_searched_or_placed() -> None:
    f = pushed_flight("F1", "/in/F1", 5, OUTCOMES[:4], ["d.jpg: not a JPEG"], PUSH, complete=True)
    assert (f.frames, f.frames_failed, f.frames_reused, f.detections) == (5, 1, 1, 5)
    assert (f.cases_new, f.cases_updated, f.complete) == (2, 1, True)
    assert (f.frames_not_searched, f.frames_not_placed) == (1, 1)
    assert f.not_searched == (
        "b.jpg: not searched: no usable pose",
        "c.jpg: searched, not placed: no GPS position",
    )


def test_an_incomplete_flight_counts_what_is_pending_and_says_why_last() -> None:
    f = failed_flight("/in/F2", "F2", "frames without a record", ["e.jpg: out of memory"], 5, OUTCOMES, 1)
    assert (f.frames_pending, f.frames_failed, f.complete, f.cases_new) == (1, 1, False, 0)
    assert f.errors == ("e.jpg: out of memory", "/in/F2: frames without a record")


def test_the_run_and_the_night_total_their_flights_in_json_with_the_documented_names() -> None:
    done = pushed_flight("F1", "/in/F1", 5, OUTCOMES[:4], [], PUSH, complete=True)
    left = failed_flight("/in/F2", "F2", "not pushed: database gone", frames=2)
    run = RunSummary((done, left), 12.345)
    out = json.loads(json.dumps(run.as_dict()))
    assert {k: out[k] for k in ("frames", "frames_failed", "cases_new", "seconds")} == {
        "frames": 7,
        "frames_failed": 1,
        "cases_new": 2,
        "seconds": 12.35,
    }
    assert run.incomplete == ["F2"] and out["errors"] == ["/in/F2: not pushed: database gone"]
    assert [f["flight_id"] for f in out["flights"]] == ["F1", "F2"]
    night = NightSummary(
        "/in", "2026-12-02 02:00:00 +0800", 4, 1, 0, (LeftFlight("/in/F9", "waiting", "no manifest"),), run
    )
    text = night.text()
    assert text.startswith("night of 2026-12-02 02:00:00 +0800: 2 flight(s) processed (1 incomplete), 4 done")
    assert "  left for later: /in/F9: no manifest" in text and "  problem: /in/F2: not pushed" in text
    assert NightSummary("/in", "x", 0, 0, 0, (), None).as_dict()["flights_processed"] == 0
