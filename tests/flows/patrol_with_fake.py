"""`python patrol_with_fake.py [--slow] ARGS...`: the `patrol` command with the tests' dark-blob detector in
place of the model (`--slow`: its slow twin, so a test has time to kill the process between frames)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flow_fakes

import pipeline.process as process
from pipeline.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    slow = args[:1] == ["--slow"]
    detector = flow_fakes.slow_dark_blobs() if slow else flow_fakes.dark_blobs()
    process.detector_for = lambda *a, **k: (detector, detector.version)  # type: ignore[assignment]
    raise SystemExit(main(args[1:] if slow else args))
