"""The review desk's presets (reject reasons, departments, deadline, undo window) from a TOML file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import PipelineError

DEFAULT_PATH = Path(__file__).with_name("review.toml")


@dataclass(frozen=True)
class Presets:
    reject_reasons: tuple[str, ...]
    departments: tuple[str, ...]
    deadline_days: int = 3
    undo_s: int = 300


def load_presets(path: Path | None = None) -> Presets:
    """The presets in `path` (the shipped defaults when None); PipelineError naming the file when unusable."""
    path = path or DEFAULT_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise PipelineError(f"cannot read review settings: {err.strerror or err}", str(path)) from err
    except tomllib.TOMLDecodeError as err:
        raise PipelineError(f"review settings are not valid TOML: {err}", str(path)) from err
    try:
        reasons = tuple(str(r).strip() for r in data.get("reject", {}).get("reasons", []) if str(r).strip())
        departments = tuple(
            str(d).strip() for d in data.get("dispatch", {}).get("departments", []) if str(d).strip()
        )
        days = int(data.get("dispatch", {}).get("deadline_days", 3))
        minutes = float(data.get("undo", {}).get("minutes", 5))
    except (TypeError, ValueError, AttributeError) as err:
        raise PipelineError(f"review settings: a bad value ({err})", str(path)) from err
    if len(reasons) > 9:
        raise PipelineError("review settings: at most 9 reject reasons (one per number key)", str(path))
    if days < 0 or minutes < 0:
        raise PipelineError("review settings: deadline_days and minutes must not be negative", str(path))
    return Presets(reasons, departments, days, int(minutes * 60))
