"""The real model through both backends: same numbers, the decoder's contract, the model card's errors, and
inference with every socket blocked (no download, no online check)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from detect_helpers import SAMPLES

from pipeline.detect.backends import OnnxDetector, TorchDetector, decode, nms, open_detector
from pipeline.detect.model import load_model_spec
from pipeline.errors import ModelError

pytestmark = pytest.mark.slow


def _tiles(n: int = 3) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 255, (n, 320, 320, 3), dtype=np.uint8)


def test_torch_and_onnx_give_the_same_raw_output(model_card: Path):
    spec = load_model_spec(model_card)
    tiles = _tiles()
    a = TorchDetector(spec, 2).forward(tiles)
    b = OnnxDetector(spec, 2).forward(tiles)
    assert a.shape == b.shape == (3, 4 + len(spec.classes), a.shape[2])
    assert np.abs(a - b).max() <= 1e-3 * max(1.0, float(np.abs(a).max()))


def test_onnx_threads_that_sleep_when_idle_compute_the_same_numbers(model_card: Path):
    # Not spinning only changes how idle pool threads wait (bench/RESULTS-throughput.md), never the result.
    spec = load_model_spec(model_card)
    tiles = _tiles(2)
    spinning = OnnxDetector(spec, 2, spinning=True).forward(tiles)
    sleeping = OnnxDetector(spec, 2, spinning=False).forward(tiles)
    assert np.array_equal(spinning, sleeping)


def test_auto_prefers_onnx_and_the_backend_is_a_setting(model_card: Path):
    spec = load_model_spec(model_card)
    assert isinstance(open_detector(spec), OnnxDetector)
    assert isinstance(open_detector(spec, "torch", threads=1), TorchDetector)
    with pytest.raises(ModelError, match="unknown backend"):
        open_detector(spec, "tensorrt")


def test_decode_keeps_confident_boxes_as_corners_with_class_aware_nms():
    raw = np.zeros((1, 6, 4), dtype=np.float32)
    # anchors: (cx, cy, w, h, score class 0, score class 1)
    raw[0, :, 0] = [50, 50, 20, 10, 0.9, 0.1]
    raw[0, :, 1] = [51, 50, 20, 10, 0.8, 0.1]  # the same object again: suppressed
    raw[0, :, 2] = [51, 50, 20, 10, 0.1, 0.7]  # the same place, other class: kept
    raw[0, :, 3] = [200, 200, 20, 10, 0.2, 0.1]  # below conf
    (out,) = decode(raw, conf=0.25, iou=0.5)
    assert out.shape == (2, 6)
    assert out[0].tolist() == pytest.approx([40, 45, 60, 55, 0.9, 0])
    assert out[1].tolist() == pytest.approx([41, 45, 61, 55, 0.7, 1])
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).size == 0


@pytest.mark.parametrize(
    ("card", "words"),
    [
        (None, "not found"),
        ("{", "unreadable"),
        ('{"classes": ["a"]}', "lacks"),
        ('{"classes": ["a"], "imgsz": 320, "gsd_m": 0.08, "weights": "missing.pt"}', "no weight file"),
    ],
)
def test_bad_model_cards_are_model_errors_naming_the_file(tmp_path: Path, card: str | None, words: str):
    path = tmp_path / "card.json"
    if card is not None:
        path.write_text(card)
    with pytest.raises(ModelError, match=words) as err:
        load_model_spec(path)
    assert str(path) in str(err.value)


GUARDED = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []

    def refuse(name):
        def blocked(*args, **kwargs):
            attempts.append(name)
            raise OSError("network blocked in test: " + name)
        return blocked

    for name in ("connect", "connect_ex"):
        setattr(socket.socket, name, refuse(name))
    for name in ("create_connection", "getaddrinfo", "gethostbyname"):
        setattr(socket, name, refuse(name))

    from pipeline.cli import main
    codes = [main(["detect", sys.argv[1], "--model", sys.argv[2], "--backend", b, "--json", "--frames"])
             for b in ("torch", "onnx")]
    print(json.dumps({"attempts": attempts, "codes": codes}))
    """
)


def test_detect_runs_with_every_socket_blocked(model_card: Path, tmp_path: Path):
    image = SAMPLES / "nadir_mapping" / "DJI_0001.JPG"
    out = subprocess.run(
        [sys.executable, "-c", GUARDED, str(image), str(model_card)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,  # ultralytics' settings land under var/ here, not in the repository
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary == {"attempts": [], "codes": [0, 0]}
    frames = [json.loads(line) for line in lines[:-1]]
    assert [f["tiles"] for f in frames] == [frames[0]["tiles"]] * 2 and frames[0]["georeferenced"]


OPENCV_THREADS = textwrap.dedent(
    """
    import json, sys
    import cv2
    from pipeline.detect.backends import OnnxDetector, TorchDetector
    from pipeline.detect.model import load_model_spec
    from pipeline.detect.offline import quiet_ultralytics

    before = cv2.getNumThreads()
    quiet_ultralytics()  # imports ultralytics
    seen = {"before": before, "after ultralytics": cv2.getNumThreads()}
    spec = load_model_spec(sys.argv[1])
    for make in (TorchDetector, OnnxDetector):
        cv2.setNumThreads(0)
        make(spec, 2)
        seen[make.__name__] = cv2.getNumThreads()
    print(json.dumps(seen))
    """
)


def test_a_detector_gives_opencv_its_threads_back_from_ultralytics(model_card: Path, tmp_path: Path):
    # A process of its own: OpenCV's thread count is global to the process that sets it.
    out = subprocess.run(
        [sys.executable, "-c", OPENCV_THREADS, str(model_card)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    # Importing ultralytics turns OpenCV's threading off (getNumThreads reads 1 then); each detector asked
    # for 2 threads sets them for rescaling too.
    assert seen["after ultralytics"] == 1 and seen["before"] >= 1
    assert seen["TorchDetector"] == 2 and seen["OnnxDetector"] == 2


def test_nms_drops_only_overlaps_above_the_threshold_within_a_class():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 12], [0, 0, 10, 30], [100, 0, 110, 10]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    # IoU with the first: 100/120 = 0.83 (dropped at 0.5), 100/300 = 0.33 (kept), 0 (kept).
    assert nms(boxes, scores, 0.5).tolist() == [0, 2, 3]
    assert nms(boxes, scores, 0.9).tolist() == [0, 1, 2, 3]
    assert nms(boxes, scores, 0.5, np.array([0, 1, 0, 0])).tolist() == [0, 1, 2, 3]
