"""One training run's settings, from the `patrol train` flags, and the folders it writes.

Kept apart from the flow so that the CLI, the flow and the model card agree on what a run is:
  OUT/dataset/{images,labels}/{train,val,test}, OUT/dataset/data.yaml, OUT/dataset/recipe-*.json
  OUT/run/ (ultralytics: weights/best.pt, weights/last.pt, results.csv, args.yaml), OUT/summary.json
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.train.fit import FitSettings
from pipeline.train.realdata import RealRecipe
from pipeline.train.recipe import HELD_OUT_SEED, TRAIN_SEED, VAL_SEED, DatasetRecipe


@dataclass(frozen=True)
class TrainPlan:
    out_dir: str
    epochs: int = 16
    imgsz: int = 320
    gsd_m: float = 0.08
    flights: int = 70
    frames_per_flight: int = 2
    val_flights: int = 8
    test_flights: int = 12
    data_seed: int = TRAIN_SEED
    seed: int = 0
    batch: int = 16
    workers: int = 2
    hard_negatives: float = 0.5  # tiles showing a rare look-alike, per tile with a target
    # The oblique flights' camera pitch range (steepest, shallowest), and the coarsest tile kept (its GSD
    # as a multiple of the target): DatasetRecipe's defaults unless a run says otherwise.
    oblique_pitch_deg: tuple[float, float] = DatasetRecipe.oblique_pitch_deg
    max_tile_gsd_ratio: float = DatasetRecipe.gsd_ratio[1]
    init: str | None = None  # start from these weights (a .pt) instead of from scratch
    # Seed a fresh two-class model with every layer of these weights whose shape fits (another task's, e.g.
    # DOTA's OBB model: backbone and neck), instead of continuing `init`.
    transfer: str | None = None
    freeze: int = 0  # the first N layers stay as initialised
    lr0: float | None = None  # a fine-tuning rate (AdamW); None: ultralytics' own choice
    arch: str = "yolov8n"  # pipeline.train.fit.ARCHITECTURES (a continued run keeps its weights' own)
    real_root: str | None = None  # real scenery (../shared/real_aerial): negatives and composites
    real_negatives: int = 600
    composites: int = 600
    litter: int = 0  # real tiles with painted scattered waste (pipeline.train.litter)
    fallback_negatives: int = 0  # real tiles without target at the no-height fallback scales
    thumbs: int = 0  # tiles of the boxed training half of the real dump-site thumbnails
    mined: int = 0  # real tiles without target around the alarms `miner` raises on the training frames
    mined_simulated: int = 0  # copies of simulated training tiles on which `miner` raises a false box
    miner: str | None = None  # the model card (JSON) that mines them
    extra: tuple[str, ...] = ()  # YOLO datasets to add to training (patrol export-training output)
    extra_holdout: float = 0.0  # share of the extras' flights kept out of training, for validation
    ship_to: str | None = None  # a models/ folder to write patrol-det.{pt,json,onnx} into

    @property
    def dataset_dir(self) -> Path:
        return Path(self.out_dir) / "dataset"

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir) / "run"

    def recipe(self, split: str) -> DatasetRecipe:
        base = DatasetRecipe(
            seed=self.data_seed,
            flights=self.flights,
            frames_per_flight=self.frames_per_flight,
            gsd_m=self.gsd_m,
            imgsz=self.imgsz,
            hard_negatives_per_positive=self.hard_negatives,
            oblique_pitch_deg=self.oblique_pitch_deg,
            gsd_ratio=(DatasetRecipe.gsd_ratio[0], self.max_tile_gsd_ratio),
        )
        if split == "val":
            return replace(base, seed=VAL_SEED, flights=self.val_flights)
        if split == "test":
            # Held-out: the same tile mix as training, but no repeated tiles (the natural class balance).
            return replace(base, seed=HELD_OUT_SEED, flights=self.test_flights, rare_repeat=1)
        return base

    def real_recipe(self) -> RealRecipe | None:
        if self.real_root is None:
            return None
        return RealRecipe(
            root=self.real_root,
            gsd_m=self.gsd_m,
            imgsz=self.imgsz,
            negatives=self.real_negatives,
            composites=self.composites,
            litter=self.litter,
            fallback_negatives=self.fallback_negatives,
            thumbs=self.thumbs,
            mined=self.mined,
            mined_simulated=self.mined_simulated,
            miner=self.miner,
            seed=self.data_seed,
        )

    def fit_settings(self) -> FitSettings:
        return FitSettings(
            epochs=self.epochs,
            imgsz=self.imgsz,
            batch=self.batch,
            nbs=self.batch,
            seed=self.seed,
            workers=self.workers,
            init=self.init,
            transfer=self.transfer,
            freeze=self.freeze,
            arch=self.arch,
            lr0=self.lr0,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
