"""Keep ultralytics off the network. Call `quiet_ultralytics()` in an entry point, before ultralytics is
imported or used; never at import time.

What ultralytics 8.4 reaches for, and what turns each off:
- `import ultralytics` runs `ONLINE = is_online()` (DNS look-ups of one.one.one.one and dns.google) at module
  level: YOLO_OFFLINE=1 makes `is_online()` answer False without a look-up, so it must be set before import.
- Settings (settings.json, and where fonts and downloads land) live in the user config dir: YOLO_CONFIG_DIR
  moves it out of the user's home to a folder we own.
- Usage analytics (`events`) post to Google Analytics when settings["sync"] is on: switched off in settings.
- `check_requirements` pip-installs missing extras (e.g. onnx on export) when YOLO_AUTOINSTALL is on: off.
- `check_font` runs on every dataset check (`check_det_dataset`, so every train and val), plots or not: it
  looks for Arial.ttf / Arial.Unicode.ttf in the config dir, then sends a HEAD request to GitHub (even
  with YOLO_OFFLINE) and downloads the font. A font already in the config dir ends it before the request,
  so the DejaVu Sans that matplotlib ships is copied there under both names (plots get DejaVu, not Arial).
- Weights named without a path (yolov8n.pt, yolo26n.pt for the AMP check) are fetched from GitHub releases:
  we only ever load explicit paths or model YAMLs, and the AMP check returns early on CPU.
- hub/callbacks (Ultralytics HUB, comet, wandb, mlflow ...) only act when their package is installed and
  enabled; settings turn the integrations off too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DEFAULT_CONFIG_DIR = Path("var") / "ultralytics"

_FONTS = ("Arial.ttf", "Arial.Unicode.ttf")
_FORCED = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "false"}
# Plain, grep-able logs (no progress-bar redraws) in files and CI; an operator's own setting wins.
_ENV = {"TQDM_DISABLE": "1"}
_SETTINGS = {
    "sync": False,
    "hub": False,
    "clearml": False,
    "comet": False,
    "dvc": False,
    "mlflow": False,
    "neptune": False,
    "raytune": False,
    "tensorboard": False,
    "wandb": False,
}


def quiet_ultralytics(config_dir: str | Path | None = None, verbose: bool = False) -> None:
    """Point ultralytics at `config_dir` (default var/ultralytics, or YOLO_CONFIG_DIR when already set) and
    switch off everything that would touch the network. Idempotent; safe to call before every use."""
    from pipeline.config import export_env

    ours = str(Path(config_dir if config_dir is not None else DEFAULT_CONFIG_DIR).resolve())
    folder = {"YOLO_CONFIG_DIR": ours}
    if config_dir is not None:
        env = export_env(_ENV, forced={**_FORCED, **folder})
    else:
        env = export_env({**_ENV, **folder}, forced=_FORCED)
    if env["YOLO_CONFIG_DIR"] == ours:
        Path(ours).mkdir(parents=True, exist_ok=True)
    # matplotlib (imported by ultralytics) keeps its font cache in the home folder unless told otherwise.
    export_env({"MPLCONFIGDIR": str(Path(env["YOLO_CONFIG_DIR"]) / "matplotlib")})
    if not verbose:
        export_env({"YOLO_VERBOSE": "false"})

    import ultralytics.utils as uu
    import ultralytics.utils.checks as checks
    import ultralytics.utils.events as events
    from ultralytics.utils import SETTINGS

    _provide_fonts(Path(uu.USER_CONFIG_DIR))
    # If ultralytics was imported before this call, its import-time answers (copied by name into the
    # modules that use them) must be corrected too.
    for module in (uu, checks, events):
        for name in ("ONLINE", "AUTOINSTALL"):
            if hasattr(module, name):
                setattr(module, name, False)
    events.events.enabled = False
    _restore_pillow_open()
    changed = {k: v for k, v in _SETTINGS.items() if k in SETTINGS and SETTINGS[k] != v}
    if changed:
        SETTINGS.update(changed)  # type: ignore[no-untyped-call]


def _restore_pillow_open() -> None:
    """Undo ultralytics' replacement of PIL's `Image.open`: on any file Pillow cannot identify, the
    replacement tries to pip-install pi-heif (a network reach) and then raises ModuleNotFoundError instead of
    Pillow's own error, which the metadata readers rely on to say "not an image". HEIF is not a format the
    pipeline reads."""
    import ultralytics.utils.patches as patches
    from PIL import Image

    original = getattr(patches, "_image_open", None)
    if original is not None:
        Image.open = original


def _provide_fonts(config_dir: Path) -> None:
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    config_dir.mkdir(parents=True, exist_ok=True)
    for name in _FONTS:
        target = config_dir / name
        if not target.exists() and source.is_file():
            shutil.copyfile(source, target)
