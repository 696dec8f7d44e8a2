"""The ultralytics training wrapper: a YOLO dataset in, weights out, reproducibly and without the network.

From scratch (`yolov8n.yaml`, or `yolo26n.yaml` with `arch`) by default: no pretrained checkpoint can be
downloaded here, and the synthetic scenes are far from COCO anyway. `init` starts from weights of our own
instead (a shipped patrol-det.pt), which is how a CPU-bound run continues an earlier one; `transfer` seeds
`arch` with the layers of other weights that fit (make init-weights: the DOTA OBB models). Seeds are fixed
and `deterministic=True`, so the same dataset, settings and initial weights give the same weights on the
same machine and library versions.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2

from pipeline.errors import ModelError

# The architectures a run can start from scratch or be seeded as (`patrol train --arch`).
ARCHITECTURES = {"yolov8n": "yolov8n.yaml", "yolo26n": "yolo26n.yaml"}


@dataclass(frozen=True)
class FitSettings:
    epochs: int = 30
    imgsz: int = 320
    batch: int = 16
    # ultralytics accumulates gradients up to a nominal batch of 64; a CPU run has few steps to spare, so
    # every batch is a step (weight decay is scaled by the same ratio, so it stays consistent).
    nbs: int = 16
    warmup_epochs: float = 1.0
    seed: int = 0
    workers: int = 2
    threads: int = 2  # torch threads; ultralytics alone would leave cpu_count - 1
    patience: int = 50
    close_mosaic: int = 3  # last epochs without mosaic, at the scale inference sees
    cache: str = "ram"
    # Augmentation for aerial tiles: no "up" at nadir, so vertical flips are fair; small scale jitter only,
    # because the frames are already at the target GSD and the oblique frames bring their own spread.
    flipud: float = 0.5
    fliplr: float = 0.5
    scale: float = 0.25
    degrees: float = 0.0
    mosaic: float = 1.0
    arch: str = "yolov8n"  # ARCHITECTURES: what a run from scratch or a seeded run builds
    init: str | None = None  # weights to start from (a .pt file); None trains from `arch`
    # Or: `arch` seeded with every layer of these weights whose name and shape match (a model of another
    # task or class count: the DOTA OBB model gives its backbone and neck, not its heads).
    transfer: str | None = None
    freeze: int = 0  # ultralytics `freeze`: the first N modules keep their initial weights
    # A fine-tuning rate for AdamW. None leaves ultralytics' "auto" (for runs this short AdamW at
    # 0.002 * 5 / (4 + classes) = 0.0017): a continued round then moves the weights as hard as a fresh run.
    lr0: float | None = None


def model_source(s: FitSettings) -> str:
    """What ultralytics builds the model from: our own weights file, or the architecture from scratch."""
    if s.init is not None and s.transfer is not None:
        raise ModelError("give initial weights to continue or to transfer from, not both")
    if s.arch not in ARCHITECTURES:
        raise ModelError(f"unknown architecture {s.arch!r} (known: {', '.join(ARCHITECTURES)})")
    if s.transfer is not None:
        if not Path(s.transfer).is_file():
            raise ModelError("weights to transfer from not found", s.transfer)
        return ARCHITECTURES[s.arch]
    if s.init is None:
        return ARCHITECTURES[s.arch]
    if not Path(s.init).is_file():
        raise ModelError("initial weights not found", s.init)
    return str(Path(s.init).resolve())


@dataclass(frozen=True)
class FitResult:
    run_dir: str
    best: str
    last: str
    epochs_done: int
    seconds: float


def fit(data_yaml: Path, run_dir: Path, s: FitSettings) -> FitResult:
    """Train the detector (`s.arch` from scratch or seeded, or continued from `s.init`) on `data_yaml`; the
    run's files (weights/, results.csv)
    go to `run_dir`."""
    from pipeline.detect.offline import quiet_ultralytics

    quiet_ultralytics()
    import torch
    from ultralytics.models.yolo.model import YOLO

    torch.set_num_threads(s.threads)
    if not data_yaml.is_file():
        raise ModelError("dataset description not found", str(data_yaml))
    source = model_source(s)
    started = time.perf_counter()
    model = YOLO(source)
    args: dict[str, Any] = asdict(s)
    for ours in ("threads", "init", "transfer", "arch"):  # not ultralytics arguments (used above)
        del args[ours]
    if s.freeze == 0:
        del args["freeze"]
    if s.lr0 is None:
        del args["lr0"]
    else:
        args.update(optimizer="AdamW", warmup_bias_lr=0.0)  # biases warm up from 0, as "auto" has them
    if s.transfer is not None:
        pretrained: str | bool = str(Path(s.transfer).resolve())
    else:
        pretrained = s.init is not None
    # No OpenCV threads while ultralytics' DataLoader forks workers (what its import sets, undone by any
    # detector opened since in this process); what it was is restored afterwards.
    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(0)
    try:
        model.train(
            data=str(data_yaml),
            project=str(run_dir.parent.resolve()),
            name=run_dir.name,
            exist_ok=True,
            device="cpu",
            deterministic=True,
            # ultralytics drops a loaded checkpoint's weights unless this is set: whether `init` counts.
            pretrained=pretrained,
            amp=False,
            plots=False,
            verbose=False,
            **args,
        )
    finally:
        cv2.setNumThreads(opencv_threads)
    weights = run_dir / "weights"
    best, last = weights / "best.pt", weights / "last.pt"
    if not last.is_file():
        raise ModelError("training wrote no weights", str(weights))
    done = _epochs_done(run_dir / "results.csv")
    return FitResult(
        str(run_dir),
        str(best if best.is_file() else last),
        str(last),
        done,
        round(time.perf_counter() - started, 1),
    )


def _epochs_done(results_csv: Path) -> int:
    if not results_csv.is_file():
        return 0
    return max(0, len(results_csv.read_text().strip().splitlines()) - 1)
