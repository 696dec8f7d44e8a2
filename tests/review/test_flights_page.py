"""The flights page tells the drone team which frames the flow could not use, and why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from pipeline.cases.models import Flight, ProcessedFrame
from tests.review.conftest import World


def test_failed_frames_are_listed_with_their_reason(
    world: World, client_as: Callable[[str | None], TestClient]
) -> None:
    with world.app.state.sessions.begin() as s:
        flight_id = s.query(Flight.id).order_by(Flight.id).first()[0]
        s.add(
            ProcessedFrame(
                key="k" * 64,
                flight_id=flight_id,
                frame_path="inbox/F1/DJI_0042.JPG",
                model_version="test",
                status="failed",
                error="truncated or damaged JPEG: no frame header",
                created_at=datetime.now(UTC),
            )
        )
    page = client_as("reviewer").get("/flights")
    assert page.status_code == 200
    assert "DJI_0042.JPG" in page.text
    assert "truncated or damaged JPEG: no frame header" in page.text
    assert "处理失败的帧" in page.text
