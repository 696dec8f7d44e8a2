"""The no-download guarantee: with every socket blocked, ultralytics imports, trains for an epoch and
predicts, and nothing ever tries to connect or resolve a name, nor writes to the user's home.

It runs in a fresh interpreter because ultralytics does network checks at import time (`ONLINE =
is_online()`): in this test process it may already have been imported by another test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

GUARD_AND_RUN = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []

    def refuse(name):
        def blocked(*args, **kwargs):
            attempts.append(f"{name}{args[1:2] if name == 'connect' else args[:1]}")
            raise OSError(f"network blocked in test: {name}")
        return blocked

    socket.socket.connect = refuse("connect")
    socket.socket.connect_ex = refuse("connect_ex")
    socket.create_connection = refuse("create_connection")
    socket.getaddrinfo = refuse("getaddrinfo")
    socket.gethostbyname = refuse("gethostbyname")

    from pipeline.detect.offline import quiet_ultralytics
    quiet_ultralytics(sys.argv[2])
    import cv2, torch
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    torch.set_num_threads(1)
    data = sys.argv[1]
    model = YOLO("yolov8n.yaml")
    model.train(data=data + "/data.yaml", epochs=1, imgsz=64, batch=4, workers=0, device="cpu", plots=False,
                project=data, name="run", exist_ok=True, verbose=False, seed=0, deterministic=True, amp=False)
    best = YOLO(data + "/run/weights/last.pt")
    result = best.predict(cv2.imread(data + "/images/train/0.png"), imgsz=64, verbose=False)
    print(json.dumps({"attempts": attempts, "boxes": len(result[0].boxes), "sync": SETTINGS["sync"]}))
    """
)


def _tiny_dataset(root: Path) -> None:
    rng = np.random.default_rng(5)
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for k in range(4):
            img = np.full((64, 64, 3), 90, np.uint8)
            x, y = (int(v) for v in rng.integers(8, 40, 2))
            cv2.rectangle(img, (x, y), (x + 16, y + 12), (200, 120, 40), -1)
            cv2.imwrite(str(root / "images" / split / f"{k}.png"), img)
            line = f"{k % 2} {(x + 8) / 64:.4f} {(y + 6) / 64:.4f} {16 / 64:.4f} {12 / 64:.4f}\n"
            (root / "labels" / split / f"{k}.txt").write_text(line)
    names = "names:\n  0: illegal_construction\n  1: garbage_pile\n"
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/train\nval: images/val\n{names}")


@pytest.mark.slow
def test_train_and_predict_with_sockets_blocked(tmp_path: Path) -> None:
    data, config, home = tmp_path / "data", tmp_path / "ultralytics", tmp_path / "home"
    _tiny_dataset(data)
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "ULTRALYTICS"))}
    env["HOME"] = str(home)  # anything written to the user's home would land here
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "MPLCONFIGDIR"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-c", GUARD_AND_RUN, str(data), str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["attempts"] == [], report["attempts"]
    assert report["sync"] is False
    assert (data / "run" / "weights" / "last.pt").is_file()
    assert (config / "Ultralytics" / "settings.json").is_file()
    assert not any(home.rglob("*")), sorted(str(p) for p in home.rglob("*"))


def _refuse(name: str, attempts: list[str]) -> object:
    def blocked(*args: object, **kwargs: object) -> None:
        attempts.append(name)
        raise OSError(f"network blocked in test: {name}")

    return blocked


def test_predict_in_process_with_sockets_blocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same guarantee when ultralytics may already be imported (import-time checks already ran)."""
    import socket

    attempts: list[str] = []
    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, _refuse(name, attempts))
    for name in ("create_connection", "getaddrinfo", "gethostbyname"):
        monkeypatch.setattr(socket, name, _refuse(name, attempts))
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics"))

    from pipeline.detect.offline import quiet_ultralytics

    quiet_ultralytics()
    from ultralytics.models.yolo.model import YOLO

    model = YOLO("yolov8n.yaml")  # built from its YAML: nothing to download
    result = model.predict(np.full((64, 64, 3), 90, np.uint8), imgsz=64, device="cpu", verbose=False)
    assert len(result) == 1
    assert attempts == []
