"""`patrol train` and its flow end to end on a tiny plan: dataset, one epoch, metrics, shipped model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.cli import main
from pipeline.train.plan import TrainPlan
from pipeline.train_commands import plan_command


def test_bad_counts_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--epochs", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("patrol: error:") and "at least 1" in err and "\n" not in err
    assert main(["train", "--extra-holdout", "1"]) == 2
    assert "--extra-holdout within [0, 1)" in capsys.readouterr().err
    assert main(["train", "--extra-holdout", "0.2"]) == 2
    assert "give at least one" in capsys.readouterr().err


def test_bad_tile_size_is_refused_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--out", str(tmp_path / "run"), "--imgsz", "100"]) == 2
    assert "imgsz must be a multiple of 32" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_plan_command_spells_out_every_setting() -> None:
    plan = TrainPlan(out_dir="var/train/run", epochs=3, ship_to="models")
    assert plan_command(plan) == (
        "patrol train --out var/train/run --epochs 3 --imgsz 320 --gsd 0.08 --flights 70 --frames 2 "
        "--val-flights 8 --test-flights 12 --data-seed 1000 --seed 0 --batch 16 --workers 2 "
        "--hard-negatives 0.5 --ship models"
    )
    tuned = TrainPlan(out_dir="var/train/v2", epochs=2, hard_negatives=0.0, init="var/init/old model.pt")
    assert plan_command(tuned).endswith("--hard-negatives 0 --init 'var/init/old model.pt'")
    gentle = TrainPlan(out_dir="var/train/v2", init="old.pt", lr0=0.0005)
    assert plan_command(gentle).endswith("--init old.pt --lr0 0.0005")


def test_the_training_views_are_a_setting(capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.train.recipe import flight_settings

    plan = TrainPlan(out_dir="var/train/v", oblique_pitch_deg=(-60.0, -35.0), max_tile_gsd_ratio=2.0)
    recipe = plan.recipe("train")
    oblique = [p for p in (flight_settings(recipe, k).pitch_deg for k in range(40)) if p != -90.0]
    assert len(oblique) > 10 and all(-60.0 <= p <= -35.0 for p in oblique)
    assert recipe.gsd_ratio[1] == 2.0 and plan.recipe("test").oblique_pitch_deg == (-60.0, -35.0)
    assert plan_command(plan).endswith("--hard-negatives 0.5 --oblique-pitch -60 -35 --max-tile-gsd 2")
    default = plan_command(TrainPlan(out_dir="var/train/v"))
    assert "--oblique-pitch" not in default and "--max-tile-gsd" not in default
    assert main(["train", "--oblique-pitch", "-30", "-60"]) == 2
    err = capsys.readouterr().err
    assert "STEEPEST <= SHALLOWEST" in err and "not -30 -60" in err
    assert main(["train", "--max-tile-gsd", "0.5"]) == 2
    assert "--max-tile-gsd must be 1..4" in capsys.readouterr().err


def test_missing_initial_weights_are_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.errors import ModelError
    from pipeline.train.fit import FitSettings, model_source

    assert model_source(FitSettings()) == "yolov8n.yaml"
    assert model_source(FitSettings(arch="yolo26n")) == "yolo26n.yaml"
    with pytest.raises(ModelError, match="unknown architecture 'yolov5'"):
        model_source(FitSettings(arch="yolov5"))
    with pytest.raises(ModelError, match="initial weights not found"):
        model_source(FitSettings(init=str(tmp_path / "nope.pt")))
    assert main(["train", "--hard-negatives", "-1"]) == 2
    assert "hard negatives" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api_url")  # the session's one Prefect server (tests/conftest.py)
def test_train_flow_builds_trains_evaluates_and_ships(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.train import train_flow

    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics"))
    plan = TrainPlan(
        out_dir=str(tmp_path / "run"),
        epochs=1,
        imgsz=64,
        flights=1,
        frames_per_flight=1,
        val_flights=1,
        test_flights=1,
        data_seed=71,  # tests own seeds below 100
        batch=8,
        workers=1,
        ship_to=str(tmp_path / "models"),
    )
    import cv2
    from ultralytics.engine.model import Model

    threads_seen: list[int] = []
    original_train = Model.train

    def train_recording_opencv_threads(self: Any, *args: Any, **kwargs: Any) -> Any:
        threads_seen.append(cv2.getNumThreads())
        return original_train(self, *args, **kwargs)

    monkeypatch.setattr(Model, "train", train_recording_opencv_threads)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(2)  # as a detector opened earlier in the process leaves OpenCV
    try:
        summary = train_flow(plan, command="patrol train (test)")
    finally:
        cv2.setNumThreads(threads)
    # Ultralytics' DataLoader workers fork with OpenCV's threading off (getNumThreads reads 1 then).
    assert threads_seen == [1]
    assert summary["fit"]["epochs_done"] == 1
    assert {c["cls"] for c in summary["held_out"]["per_class"]} == {"illegal_construction", "garbage_pile"}
    card = json.loads((tmp_path / "models" / "patrol-det.json").read_text())
    assert card["classes"] == ["illegal_construction", "garbage_pile"]
    assert card["imgsz"] == 64 and card["gsd_m"] == 0.08 and card["weights"] == "patrol-det.pt"
    assert card["command"] == "patrol train (test)"
    weights = tmp_path / "models" / "patrol-det.pt"
    # Optimizer state stripped, fp16: a nano model is a few MB.
    assert weights.is_file() and weights.stat().st_size < 8_000_000
    if card["onnx"] is not None:
        assert (tmp_path / "models" / card["onnx"]).is_file()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["plan"]["epochs"] == 1

    # Continuing from those weights (--init), at a fine-tuning rate: one more epoch moves them a little, not
    # back to random.
    from dataclasses import replace

    import torch

    # Another seed: from scratch, it would start (and after one epoch, end) far from the first run.
    tuned = replace(
        plan, out_dir=str(tmp_path / "tuned"), init=str(weights), seed=1, ship_to=None, lr0=0.0005
    )
    again = train_flow(tuned, command="patrol train (test, tuned)")
    assert again["fit"]["epochs_done"] == 1
    # What ultralytics itself recorded it trained with: the fine-tuning rate, not its "auto" choice.
    recorded = torch.load(again["fit"]["last"], map_location="cpu", weights_only=False)["train_args"]
    assert (recorded["optimizer"], recorded["lr0"], recorded["warmup_bias_lr"]) == ("AdamW", 0.0005, 0.0)

    def first_conv(path: str | Path) -> torch.Tensor:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        model = ckpt["ema"] or ckpt["model"]
        return next(p for p in model.parameters() if p.ndim == 4).detach().float()

    from ultralytics.nn.tasks import DetectionModel

    start, after = first_conv(weights), first_conv(again["fit"]["last"])
    fresh = next(p for p in DetectionModel("yolov8n.yaml", nc=2, verbose=False).parameters() if p.ndim == 4)
    assert (after - start).abs().mean() < 0.2 * (fresh.detach() - start).abs().mean()


REAL = Path(__file__).resolve().parents[2].parent / "shared" / "real_aerial"


@pytest.mark.slow
@pytest.mark.skipif(not REAL.is_dir(), reason="the shared real scenery is not on this machine")
@pytest.mark.usefixtures("prefect_api_url")
def test_transfer_from_another_tasks_weights_with_real_scenery_and_exported_reviews(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--transfer seeds the backbone from a 15-class OBB model (DOTA's shape) and leaves the class heads new;
    --real adds real negatives and composites; --extra adds an exported review dataset, and
    --extra-holdout keeps one of its two flights out of training and reports the model on it."""
    import cv2
    import numpy as np
    import torch
    from ultralytics.nn.tasks import OBBModel

    from flows.train import train_flow

    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics"))
    torch.manual_seed(3)
    source = OBBModel("yolov8n-obb.yaml", nc=15, verbose=False)
    obb = tmp_path / "obb.pt"
    torch.save({"model": source, "train_args": {}}, obb)
    exported = tmp_path / "export"
    for kind in ("images", "labels"):
        (exported / kind / "train").mkdir(parents=True)
    entries = []
    for k in (1, 2):
        cv2.imwrite(str(exported / "images" / "train" / f"case{k}.jpg"), np.full((128, 128, 3), 90, np.uint8))
        (exported / "labels" / "train" / f"case{k}.txt").write_text("1 0.5 0.5 0.2 0.2\n")
        entries.append({"image": f"case{k}.jpg", "frame": f"inbox/flight{k}/DJI_0001.JPG", "rejected": []})
    (exported / "export.json").write_text(json.dumps({"frames": entries}))
    plan = TrainPlan(
        out_dir=str(tmp_path / "run"),
        epochs=1,
        imgsz=128,  # whole simulated targets to composite (at 64 px most are cut by a tile border)
        flights=2,
        frames_per_flight=1,
        val_flights=1,
        test_flights=1,
        data_seed=72,
        batch=8,
        workers=1,
        transfer=str(obb),
        freeze=10,  # the backbone stays exactly as transferred
        real_root=str(REAL),
        real_negatives=6,
        composites=6,
        extra=(str(exported),),
        extra_holdout=0.5,
        ship_to=str(tmp_path / "models"),
    )
    assert (
        "--transfer" in plan_command(plan)
        and "--real" in plan_command(plan)
        and "--extra" in plan_command(plan)
        and "--extra-holdout 0.5" in plan_command(plan)
    )
    summary = train_flow(plan, command="patrol train (test, transfer)")
    assert summary["splits"]["real"]["negatives"] == 6 and summary["splits"]["real"]["composites"] == 6
    extra = summary["splits"]["extra"]
    assert (extra["datasets"], extra["frames"], extra["unposed_frames"]) == (1, 1, 1)
    assert extra["positive_tiles"] >= 1 and extra["boxes"]["garbage_pile"] >= 1
    dataset = tmp_path / "run" / "dataset" / "images"
    train_images = {p.name.split("_")[0] for p in (dataset / "train").iterdir()}
    assert {"real", "comp", "extra0"} <= train_images
    # The other flight: not trained on, cut apart and validated on.
    held = summary["splits"]["extra_held_out"]
    assert (held["flights"], held["flights_cut"], held["frames"]) == (2, 1, 1)
    trained_cases = {p.name.split("_")[1] for p in (dataset / "train").glob("extra0_*")}
    held_cases = {p.name.split("_")[1] for p in (dataset / "extra_held_out").glob("extra0_*")}
    assert len(trained_cases) == len(held_cases) == 1 and trained_cases | held_cases == {"case1", "case2"}
    review = summary["held_out_extra"]
    assert review["split"] == "extra_held_out" and review["images"] == held["tiles"] >= 1
    assert review["per_class"][1]["instances"] == held["boxes"]["garbage_pile"] >= 1
    card = json.loads((tmp_path / "models" / "patrol-det.json").read_text())
    assert card["metrics"]["review_held_out"] == json.loads(json.dumps(review))
    assert card["metrics"]["split"] == "test"
    ckpt = torch.load(summary["fit"]["last"], map_location="cpu", weights_only=False)
    trained = (ckpt["ema"] or ckpt["model"]).float().state_dict()
    theirs = source.state_dict()
    first = "model.0.conv.weight"
    # Transferred and frozen: the source's values, to the fp16 the checkpoint stores.
    assert torch.equal(trained[first], theirs[first].half().float())
    head = [k for k in trained if k.startswith("model.22.cv3") and trained[k].ndim == 4][-1]
    assert trained[head].shape[0] == 2 and theirs[head].shape[0] == 15  # the class head is new
