"""`train_flow`: simulated dataset -> YOLO training -> held-out evaluation -> (optionally) ship to models/.

Thin tasks around pipeline.train; each step is resumable: a dataset split already built from the same recipe
is reused, so a rerun after a crash goes straight to training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prefect import flow, task

from pipeline.train.dataset import build_split, write_data_yaml
from pipeline.train.evaluate import evaluate
from pipeline.train.extra import Holdout, add_extra
from pipeline.train.fit import fit
from pipeline.train.package import ModelInfo, ship
from pipeline.train.plan import TrainPlan
from pipeline.train.realdata import build_real

SPLITS = ("train", "val", "test")


@task(name="build-split")
def build_split_task(plan: TrainPlan, split: str) -> dict[str, Any]:
    return build_split(plan.dataset_dir, split, plan.recipe(split), workers=plan.workers).as_dict()


@task(name="real-scenery")
def real_task(plan: TrainPlan) -> dict[str, Any]:
    recipe = plan.real_recipe()
    assert recipe is not None
    return build_real(plan.dataset_dir, "train", recipe)


# The review flights `--extra-holdout` keeps out of training, cut into a split of their own.
EXTRA_HELD_OUT = "extra_held_out"


@task(name="extra-data")
def extra_task(plan: TrainPlan, held: bool = False) -> dict[str, Any]:
    split, recipe = (EXTRA_HELD_OUT, plan.recipe("test")) if held else ("train", plan.recipe("train"))
    return add_extra(plan.dataset_dir, split, plan.extra, recipe, holdout=Holdout(plan.extra_holdout, held))


@task(name="fit")
def fit_task(plan: TrainPlan, data_yaml: Path) -> dict[str, Any]:
    result = fit(data_yaml, plan.run_dir, plan.fit_settings())
    return {
        "best": result.best,
        "last": result.last,
        "epochs_done": result.epochs_done,
        "seconds": result.seconds,
    }


@task(name="evaluate")
def evaluate_task(
    plan: TrainPlan, weights: Path, data_yaml: Path, folder: str | None = None
) -> dict[str, Any]:
    return evaluate(weights, data_yaml, "test", plan.imgsz, plan.batch, folder).as_dict()


@task(name="ship")
def ship_task(plan: TrainPlan, best: Path, command: str, metrics: dict[str, Any]) -> dict[str, Any]:
    assert plan.ship_to is not None
    trained_on = (
        f"simulated flights: train seeds {plan.data_seed}..{plan.data_seed + plan.flights - 1} "
        f"({plan.flights} flights x {plan.frames_per_flight} frames), "
        f"tiles {plan.imgsz} px at {plan.gsd_m} m/px, "
        f"{plan.hard_negatives:g} look-alike tiles per target tile, "
        f"oblique flights pitched {plan.oblique_pitch_deg[0]:g}..{plan.oblique_pitch_deg[1]:g} deg, "
        f"tiles to {plan.max_tile_gsd_ratio:g}x that GSD"
        + (
            f"; real scenery from {plan.real_root}: {plan.real_negatives} negative tiles, "
            f"{plan.composites} composited tiles"
            + (f", {plan.litter} painted-litter tiles" if plan.litter else "")
            + (
                f", {plan.fallback_negatives} negative tiles at the no-height passes' scales"
                if plan.fallback_negatives
                else ""
            )
            + (f", {plan.thumbs} tiles of real dump-site thumbnails (boxed half)" if plan.thumbs else "")
            + (f", {plan.mined} tiles around the miner's alarms there" if plan.mined else "")
            + (f", {plan.mined_simulated} simulated tiles it is wrong on" if plan.mined_simulated else "")
            if plan.real_root
            else ""
        )
        + (f"; plus {len(plan.extra)} exported review dataset(s)" if plan.extra else "")
        + (f"; continued from {Path(plan.init).name}" if plan.init else "")
        + (f"; seeded from {Path(plan.transfer).name}" if plan.transfer else "")
        + ("; from scratch" if not (plan.init or plan.transfer) else "")
    )
    info = ModelInfo(plan.imgsz, plan.gsd_m, trained_on, command, metrics)
    return ship(best, Path(plan.ship_to), info)


@flow(name="patrol-train")
def train_flow(plan: TrainPlan, command: str = "") -> dict[str, Any]:
    """Run every step of `plan`; returns (and writes to OUT/summary.json) what each step reported."""
    splits: dict[str, Any] = {split: build_split_task(plan, split) for split in SPLITS}
    if plan.real_root is not None:
        splits["real"] = real_task(plan)
    splits["extra"] = extra_task(plan)
    if plan.extra and plan.extra_holdout:
        splits[EXTRA_HELD_OUT] = extra_task(plan, held=True)
    folders = {"train": "images/train", "val": "images/val", "test": "images/test"}
    data_yaml = write_data_yaml(plan.dataset_dir, folders)
    fitted = fit_task(plan, data_yaml)
    best = Path(fitted["best"])
    metrics = evaluate_task(plan, best, data_yaml)
    summary: dict[str, Any] = {"plan": plan.as_dict(), "splits": splits, "fit": fitted, "held_out": metrics}
    card_metrics = metrics
    if splits.get(EXTRA_HELD_OUT, {}).get("tiles"):
        folder = f"images/{EXTRA_HELD_OUT}"
        # ultralytics validates only a data file's own split names: a second file names these tiles "test".
        held_yaml = write_data_yaml(plan.dataset_dir, {**folders, "test": folder}, f"{EXTRA_HELD_OUT}.yaml")
        summary["held_out_extra"] = evaluate_task(plan, best, held_yaml, folder)
        card_metrics = {**metrics, "review_held_out": summary["held_out_extra"]}
    if plan.ship_to is not None:
        summary["shipped"] = ship_task(plan, best, command, card_metrics)
    Path(plan.out_dir, "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
