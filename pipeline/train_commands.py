"""`patrol train`: build the simulated dataset, train the detector, evaluate it on held-out flights and
(with --ship) write models/patrol-det.{pt,json,onnx}. Runs the Prefect flow flows.train.train_flow, reached
lazily so that the other commands never import Prefect."""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from pipeline.errors import ModelError


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="train the detector on simulated flights (Prefect flow)")
    p.add_argument("--out", default="var/train/run", metavar="DIR", help="dataset, run and summary folder")
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--imgsz", type=int, default=320, metavar="PX", help="tile size, a multiple of 32")
    p.add_argument("--gsd", type=float, default=0.08, metavar="M", help="ground metres per pixel of tiles")
    p.add_argument("--flights", type=int, default=70, help="simulated training flights")
    p.add_argument("--frames", type=int, default=2, help="frames per simulated flight")
    p.add_argument("--val-flights", type=int, default=8)
    p.add_argument("--test-flights", type=int, default=12, help="held-out flights for the metrics")
    p.add_argument("--data-seed", type=int, default=1000, help="first training flight's seed")
    p.add_argument("--seed", type=int, default=0, help="training seed (weights init, augmentation order)")
    p.add_argument("--batch", type=int, default=16, help="tiles per optimizer step")
    p.add_argument("--workers", type=int, default=2, help="processes for simulation and data loading")
    p.add_argument(
        "--hard-negatives",
        type=float,
        default=0.5,
        metavar="F",
        help="tiles without a target that show a rare look-alike (court, canopy, tarp), per tile with one",
    )
    p.add_argument(
        "--oblique-pitch",
        type=float,
        nargs=2,
        default=None,
        metavar=("STEEPEST", "SHALLOWEST"),
        help="camera pitch range of the oblique training flights, degrees (default -80 -35)",
    )
    p.add_argument(
        "--max-tile-gsd",
        type=float,
        default=None,
        metavar="RATIO",
        help="coarsest training tile kept, its GSD over --gsd (default 1.7; detection searches to 2)",
    )
    p.add_argument("--init", default=None, metavar="PT", help="start from these weights instead of scratch")
    p.add_argument(
        "--transfer",
        default=None,
        metavar="PT",
        help="seed --arch with the layers of these weights that fit (make init-weights: DOTA v8n / 26n OBB)",
    )
    p.add_argument(
        "--arch",
        default="yolov8n",
        choices=("yolov8n", "yolo26n"),
        help="architecture to build from scratch or seed with --transfer (default yolov8n)",
    )
    p.add_argument(
        "--freeze", type=int, default=0, metavar="N", help="keep the first N layers as initialised"
    )
    p.add_argument(
        "--lr0",
        type=float,
        default=None,
        metavar="RATE",
        help="fine-tune at this learning rate (AdamW; e.g. 0.0005 continuing --init); default: ultralytics'",
    )
    p.add_argument(
        "--real",
        default=None,
        metavar="DIR",
        help="real scenery folder (../shared/real_aerial): real negatives and composited targets",
    )
    p.add_argument("--real-negatives", type=int, default=600, metavar="N", help="real tiles without target")
    p.add_argument("--composites", type=int, default=600, metavar="N", help="real tiles with pasted targets")
    p.add_argument(
        "--litter", type=int, default=0, metavar="N", help="real tiles with painted scattered waste"
    )
    p.add_argument(
        "--fallback-negatives",
        type=int,
        default=0,
        metavar="N",
        help="real tiles without target at the scales patrol detect searches a frame without height at",
    )
    p.add_argument(
        "--thumbs",
        type=int,
        default=0,
        metavar="N",
        help="tiles of the boxed training half of the real dump-site thumbnails (real waste; needs --real)",
    )
    p.add_argument(
        "--mine",
        type=int,
        default=0,
        metavar="N",
        help="real tiles without target holding what --miner boxes on the real training frames (with --real)",
    )
    p.add_argument(
        "--mine-simulated",
        type=int,
        default=0,
        metavar="N",
        help="copies of the simulated training tiles on which --miner raises a box no label explains",
    )
    p.add_argument(
        "--miner", default=None, metavar="CARD", help="the model card (JSON) whose alarms --mine mines"
    )
    p.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="DIR",
        help="a YOLO dataset to add to training (patrol export-training output); repeatable",
    )
    p.add_argument(
        "--extra-holdout",
        type=float,
        default=0.0,
        metavar="F",
        help="keep about this share of the --extra flights out of training and report the model on them",
    )
    p.add_argument("--ship", default=None, metavar="MODELS_DIR", help="write patrol-det.* into this folder")
    p.add_argument("--json", action="store_true", help="print the run summary as one JSON object")
    p.add_argument("--db", default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from pipeline.train.plan import TrainPlan
    from pipeline.train.recipe import DatasetRecipe

    if (
        args.epochs < 1
        or args.flights < 1
        or args.frames < 1
        or args.val_flights < 1
        or args.test_flights < 1
        or args.hard_negatives < 0
        or args.freeze < 0
        or (args.lr0 is not None and not 0 < args.lr0 < 1)
        or args.real_negatives < 0
        or args.composites < 0
        or args.litter < 0
        or args.fallback_negatives < 0
        or args.thumbs < 0
        or args.mine < 0
        or args.mine_simulated < 0
        or not 0 <= args.extra_holdout < 1
    ):
        raise ModelError(
            "epochs and flight/frame counts must be at least 1; hard negatives, freeze, real negatives, "
            "composites, fallback negatives, mined tiles, thumbs and litter not below 0; "
            "--lr0 within (0, 1); --extra-holdout within [0, 1)"
        )
    pitch = DatasetRecipe.oblique_pitch_deg if args.oblique_pitch is None else tuple(args.oblique_pitch)
    if not -90 < pitch[0] <= pitch[1] < 0:
        raise ModelError(
            "--oblique-pitch wants STEEPEST <= SHALLOWEST, both between -90 and 0 degrees, "
            f"not {pitch[0]:g} {pitch[1]:g}"
        )
    max_ratio = DatasetRecipe.gsd_ratio[1] if args.max_tile_gsd is None else args.max_tile_gsd
    if not 1.0 <= max_ratio <= 4.0:
        raise ModelError(f"--max-tile-gsd must be 1..4 (a multiple of --gsd), not {max_ratio:g}")
    if args.extra_holdout and not args.extra:
        raise ModelError("--extra-holdout holds out flights of the --extra datasets: give at least one")
    if (args.mine or args.mine_simulated) and (args.miner is None or args.real is None):
        raise ModelError("--mine needs --real (the frames to mine) and --miner (the model card to mine with)")
    plan = TrainPlan(
        out_dir=args.out,
        epochs=args.epochs,
        imgsz=args.imgsz,
        gsd_m=args.gsd,
        flights=args.flights,
        frames_per_flight=args.frames,
        val_flights=args.val_flights,
        test_flights=args.test_flights,
        data_seed=args.data_seed,
        seed=args.seed,
        batch=args.batch,
        workers=args.workers,
        hard_negatives=args.hard_negatives,
        oblique_pitch_deg=(float(pitch[0]), float(pitch[1])),
        max_tile_gsd_ratio=float(max_ratio),
        init=args.init,
        transfer=args.transfer,
        freeze=args.freeze,
        lr0=args.lr0,
        arch=args.arch,
        real_root=args.real,
        real_negatives=args.real_negatives,
        composites=args.composites,
        litter=args.litter,
        fallback_negatives=args.fallback_negatives,
        thumbs=args.thumbs,
        mined=args.mine,
        mined_simulated=args.mine_simulated,
        miner=args.miner,
        extra=tuple(args.extra),
        extra_holdout=args.extra_holdout,
        ship_to=args.ship,
    )
    plan.recipe("train").check()
    command = plan_command(plan)
    # Without a Prefect server, the flow starts a temporary one; on a busy 2-core machine (training is what
    # makes it busy) that can take longer than Prefect's default 20 s wait.
    from pipeline.config import PREFECT_STARTUP_TIMEOUT_S, export_env

    export_env({"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(PREFECT_STARTUP_TIMEOUT_S)})
    # No Prefect telemetry (its temporary server would try every 10 minutes of a long run).
    from pipeline.process_commands import quiet_prefect

    quiet_prefect()
    from flows.train import train_flow

    summary = train_flow(plan, command=command)
    _print(summary, args.json)
    return 0


def plan_command(plan: Any) -> str:
    """The full `patrol train` command line that reruns `plan` (every flag spelled out, for the card)."""
    parts = [
        "patrol train",
        f"--out {shlex.quote(plan.out_dir)}",
        f"--epochs {plan.epochs} --imgsz {plan.imgsz} --gsd {plan.gsd_m:g}",
        f"--flights {plan.flights} --frames {plan.frames_per_flight}",
        f"--val-flights {plan.val_flights} --test-flights {plan.test_flights}",
        f"--data-seed {plan.data_seed} --seed {plan.seed} --batch {plan.batch} --workers {plan.workers}",
        f"--hard-negatives {plan.hard_negatives:g}",
    ]
    from pipeline.train.recipe import DatasetRecipe

    if tuple(plan.oblique_pitch_deg) != DatasetRecipe.oblique_pitch_deg:
        parts.append(f"--oblique-pitch {plan.oblique_pitch_deg[0]:g} {plan.oblique_pitch_deg[1]:g}")
    if plan.max_tile_gsd_ratio != DatasetRecipe.gsd_ratio[1]:
        parts.append(f"--max-tile-gsd {plan.max_tile_gsd_ratio:g}")
    if plan.init is not None:
        parts.append(f"--init {shlex.quote(plan.init)}")
    if plan.transfer is not None:
        parts.append(f"--transfer {shlex.quote(plan.transfer)}")
    if plan.arch != "yolov8n":
        parts.append(f"--arch {plan.arch}")
    if plan.freeze:
        parts.append(f"--freeze {plan.freeze}")
    if plan.lr0 is not None:
        parts.append(f"--lr0 {plan.lr0:g}")
    if plan.real_root is not None:
        parts.append(f"--real {shlex.quote(plan.real_root)}")
        parts.append(f"--real-negatives {plan.real_negatives} --composites {plan.composites}")
        if plan.litter:
            parts.append(f"--litter {plan.litter}")
        if plan.fallback_negatives:
            parts.append(f"--fallback-negatives {plan.fallback_negatives}")
        if plan.thumbs:
            parts.append(f"--thumbs {plan.thumbs}")
        if plan.mined:
            parts.append(f"--mine {plan.mined}")
        if plan.mined_simulated:
            parts.append(f"--mine-simulated {plan.mined_simulated}")
        if plan.mined or plan.mined_simulated:
            parts.append(f"--miner {shlex.quote(str(plan.miner))}")
    parts += [f"--extra {shlex.quote(d)}" for d in plan.extra]
    if plan.extra_holdout:
        parts.append(f"--extra-holdout {plan.extra_holdout:g}")
    if plan.ship_to is not None:
        parts.append(f"--ship {shlex.quote(plan.ship_to)}")
    return " ".join(parts)


def _print(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, ensure_ascii=False, default=str), flush=True)
        return
    fit = summary["fit"]
    print(f"trained {fit['epochs_done']} epochs in {fit['seconds']:.0f} s: {fit['best']}")
    _print_metrics("held-out tiles", summary["held_out"])
    held = summary["splits"].get("extra_held_out")
    if held is not None:
        title = f"held-out review flights ({held['flights_cut']} of {held['flights']})"
        if "held_out_extra" in summary:
            _print_metrics(title, summary["held_out_extra"])
        else:
            print(f"{title}: no tiles to validate on (no flight held out, or none gave a tile)")
    if "shipped" in summary:
        print(f"shipped to {summary['plan']['ship_to']}")


def _print_metrics(title: str, held: dict[str, Any]) -> None:
    print(f"{title}: mAP50 {held['map50']:.3f}  mAP50-95 {held['map50_95']:.3f}  ({held['images']} tiles)")
    for c in held["per_class"]:
        print(
            f"  {c['cls']:<22} mAP50 {c['map50']:.3f}  mAP50-95 {c['map50_95']:.3f}  ({c['instances']} boxes)"
        )
