"""`patrol export-training`: reviewed cases become a YOLO dataset."""

from __future__ import annotations

from pathlib import Path

from pipeline.cases import lifecycle
from pipeline.review.training import export_training
from tests.review.conftest import CLASSES, World


def test_confirmed_boxes_and_rejected_hard_negatives(world: World, tmp_path: Path) -> None:
    sessions = world.app.state.sessions
    with sessions.begin() as s:
        ids = [v for v in range(1, 40) if s.get(lifecycle.Case, v) is not None]
        for case_id in ids:
            case = lifecycle.get_case(s, case_id)
            if case.frame_path and case.frame_path.endswith("DJI_0001.JPG"):
                lifecycle.claim(s, case_id, "rev1")
                lifecycle.confirm(s, case_id, "rev1")
            elif case.frame_path and case.frame_path.endswith("DJI_0002.JPG"):
                lifecycle.reject(s, case_id, "rev1", "误检")
    out = tmp_path / "ds"
    with sessions() as s:
        result = export_training(s, world.data_root, out, list(CLASSES))
    assert result.images == 2 and result.positives == 1 and result.hard_negatives == 1
    assert result.skipped_unreviewed == 1  # DJI_0003 still has cases nobody judged
    labels = sorted((out / "labels" / "train").glob("*.txt"))
    lines = [p.read_text().splitlines() for p in labels]
    assert sorted(len(x) for x in lines) == [0, result.boxes]
    for line in (x for x in lines if x):
        for row in line:
            cls, *xywh = row.split()
            assert int(cls) in (0, 1) and all(0.0 <= float(v) <= 1.0 for v in xywh)
    assert "names:" in (out / "data.yaml").read_text()
    assert len(list((out / "images" / "train").iterdir())) == 2
