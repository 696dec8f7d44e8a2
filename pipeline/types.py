"""Records that cross stage boundaries: frozen, small, units in the field names.

Angles follow DJI's conventions throughout: yaw in degrees clockwise from true north, pitch in degrees with
0 = horizon and -90 = straight down (nadir), roll in degrees with positive = the image turns clockwise as seen
from behind the camera (its right side goes down).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ImageMeta:
    """What one photo's file says about itself; None where the file does not say."""

    path: str
    width: int | None
    height: int | None
    make: str | None = None
    model: str | None = None
    captured_at: str | None = None  # ISO 8601, with offset when the file gives one
    lat: float | None = None
    lon: float | None = None
    abs_alt_m: float | None = None  # above sea level (GPS or barometric; often tens of metres off)
    rel_alt_m: float | None = None  # above the take-off point
    gimbal_yaw_deg: float | None = None
    gimbal_pitch_deg: float | None = None
    gimbal_roll_deg: float | None = None
    flight_yaw_deg: float | None = None
    flight_pitch_deg: float | None = None
    flight_roll_deg: float | None = None
    focal_mm: float | None = None
    focal_35mm: float | None = None
    calibrated_focal_px: float | None = None  # DJI CalibratedFocalLength, as written (units vary by model)
    calibrated_cx_px: float | None = None
    calibrated_cy_px: float | None = None
    exif_width: int | None = None  # what EXIF claims; differs from width after a resize
    exif_height: int | None = None
    problems: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The `patrol meta --json` object (DESIGN.md field names, problems as a list)."""
        out = {name: getattr(self, name) for name in META_FIELDS}
        out["problems"] = list(self.problems)
        return out


META_FIELDS: tuple[str, ...] = (
    "path",
    "width",
    "height",
    "make",
    "model",
    "captured_at",
    "lat",
    "lon",
    "abs_alt_m",
    "rel_alt_m",
    "gimbal_yaw_deg",
    "gimbal_pitch_deg",
    "gimbal_roll_deg",
    "flight_yaw_deg",
    "flight_pitch_deg",
    "flight_roll_deg",
    "focal_mm",
    "focal_35mm",
    "problems",
)


@dataclass(frozen=True)
class SrtEntry:
    """One subtitle block of a DJI telemetry file; None where the layout does not carry the field."""

    index: int
    start_ms: int
    end_ms: int
    lat: float | None = None
    lon: float | None = None
    rel_alt_m: float | None = None
    abs_alt_m: float | None = None
    gimbal_yaw_deg: float | None = None
    gimbal_pitch_deg: float | None = None
    gimbal_roll_deg: float | None = None
    flight_yaw_deg: float | None = None
    flight_pitch_deg: float | None = None
    flight_roll_deg: float | None = None
    focal_mm: float | None = None
    focal_35mm: float | None = None
    satellites: int | None = None
    extra: tuple[tuple[str, str], ...] = ()  # other key/value pairs the layout carries (iso, shutter, ...)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "lat": self.lat,
            "lon": self.lon,
            "rel_alt_m": self.rel_alt_m,
            "abs_alt_m": self.abs_alt_m,
        }
        for name in (
            "gimbal_yaw_deg",
            "gimbal_pitch_deg",
            "gimbal_roll_deg",
            "flight_yaw_deg",
            "flight_pitch_deg",
            "flight_roll_deg",
            "focal_mm",
            "focal_35mm",
            "satellites",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out.update(dict(self.extra))
        return out


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera for one image size. Square pixels; the principal point in pixels."""

    width_px: int
    height_px: int
    focal_px: float
    cx_px: float
    cy_px: float
    source: str  # "calibrated", "sensor_table", "focal_35mm", "assumed"
    sensor_width_mm: float | None = None

    @property
    def hfov_deg(self) -> float:
        import math

        return math.degrees(2.0 * math.atan(self.width_px / (2.0 * self.focal_px)))


@dataclass(frozen=True)
class Pose:
    """Where a camera is and where it looks. `height_m` is above the ground plane that pixels land on."""

    lat: float
    lon: float
    height_m: float
    yaw_deg: float
    pitch_deg: float
    roll_deg: float = 0.0


@dataclass(frozen=True)
class CameraView:
    """A frame ready for georeferencing: its pose and intrinsics, and where each came from."""

    pose: Pose
    intrinsics: Intrinsics
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class GroundPoint:
    lat: float
    lon: float
    ground_distance_m: float  # horizontal distance from the point below the camera
