"""Records that cross stage boundaries: frozen, small, units in the field names.

Angles follow DJI's conventions throughout: yaw in degrees clockwise from true north, pitch in degrees with
0 = horizon and -90 = straight down (nadir), roll in degrees with positive = the image turns clockwise as seen
from behind the camera (its right side goes down).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Attitude:
    """Which way a camera gimbal or an airframe points (the conventions above); None where the source does not
    say. Files, telemetry and `patrol meta --json` name these `<part>_yaw_deg` etc. (`flat`)."""

    yaw_deg: float | None = None
    pitch_deg: float | None = None
    roll_deg: float | None = None

    def flat(self, part: str) -> dict[str, float | None]:
        """The fields under their flat names: `part` is "gimbal" or "flight"."""
        return {f"{part}_{axis}_deg": getattr(self, f"{axis}_deg") for axis in _AXES}

    @classmethod
    def from_flat(cls, values: Mapping[str, Any], part: str) -> Attitude:
        """The inverse of `flat`: the part's three fields from a mapping of flat names (absent: None)."""
        return cls(*(values.get(f"{part}_{axis}_deg") for axis in _AXES))

    def angles(self) -> tuple[float, float, float]:
        """Yaw, pitch and roll of an attitude that states all three (the simulator's truth)."""
        if self.yaw_deg is None or self.pitch_deg is None or self.roll_deg is None:
            raise ValueError(f"{self} does not state all three angles")
        return self.yaw_deg, self.pitch_deg, self.roll_deg

    def toward(self, other: Attitude, t: float) -> Attitude:
        """The attitude a fraction `t` of the way to `other`, angles the short way round (359 -> 1 passes
        through 0, not 180); where either side lacks a value, the nearer side's."""
        return Attitude(*(_lerp_angle(getattr(self, n), getattr(other, n), t) for n in _ATTITUDE_FIELDS))


_AXES = ("yaw", "pitch", "roll")
_ATTITUDE_FIELDS = ("yaw_deg", "pitch_deg", "roll_deg")
# The parts an attitude is recorded for, in the order files and `patrol meta --json` list them.
ATTITUDE_PARTS = ("gimbal", "flight")
FLAT_ATTITUDE_NAMES: tuple[str, ...] = tuple(f"{p}_{a}_deg" for p in ATTITUDE_PARTS for a in _AXES)


def flat_fields(record: Any) -> dict[str, Any]:
    """A record's fields under their flat names, its attitudes as `gimbal_yaw_deg` ...: the names the
    readers, `unreadable` and the JSON output use."""
    out: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        out.update(value.flat(f.name) if isinstance(value, Attitude) else {f.name: value})
    return out


def _lerp_angle(a: float | None, b: float | None, t: float) -> float | None:
    if a is None or b is None:
        return a if t < 0.5 else b
    delta = (b - a + 180.0) % 360.0 - 180.0
    out = a + delta * t
    return (out + 180.0) % 360.0 - 180.0


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
    gimbal: Attitude = field(default_factory=Attitude)
    flight: Attitude = field(default_factory=Attitude)
    focal_mm: float | None = None
    focal_35mm: float | None = None
    calibrated_focal_px: float | None = None  # DJI CalibratedFocalLength, as written (units vary by model)
    # EXIF FocalPlaneXResolution in pixels per sensor millimetre, for the exif_width image (compact cameras)
    focal_plane_px_per_mm: float | None = None
    calibrated_cx_px: float | None = None
    calibrated_cy_px: float | None = None
    exif_width: int | None = None  # what EXIF claims; differs from width after a resize
    exif_height: int | None = None
    # DJI RTK tags: the solution (50 fixed, 34 float, 16 single point, 0 none) and its stated accuracy
    rtk_flag: int | None = None
    rtk_std_lat_m: float | None = None
    rtk_std_lon_m: float | None = None
    rtk_std_hgt_m: float | None = None
    problems: tuple[str, ...] = ()
    # (field, what the file held): a field the file states but whose value is no usable number (NaN, inf,
    # junk, out of range). Such a field is None like a missing one, but it is never replaced by a default
    # (a pitch that cannot be read is not "nadir"): pipeline.geo.pose_from_meta refuses the pose instead.
    unreadable: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The `patrol meta --json` object (DESIGN.md field names, problems as a list)."""
        flat = flat_fields(self)
        out = {name: flat[name] for name in META_FIELDS}
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
    *FLAT_ATTITUDE_NAMES,
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
    gimbal: Attitude = field(default_factory=Attitude)
    flight: Attitude = field(default_factory=Attitude)
    focal_mm: float | None = None
    focal_35mm: float | None = None
    satellites: int | None = None
    extra: tuple[tuple[str, str], ...] = ()  # other key/value pairs the layout carries (iso, shutter, ...)
    unreadable: tuple[tuple[str, str], ...] = ()  # (field, what the block held): as ImageMeta.unreadable

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
        optional = {
            **self.gimbal.flat("gimbal"),
            **self.flight.flat("flight"),
            "focal_mm": self.focal_mm,
            "focal_35mm": self.focal_35mm,
            "satellites": self.satellites,
        }
        out.update({name: value for name, value in optional.items() if value is not None})
        out.update(dict(self.extra))
        if self.unreadable:
            out["problems"] = [f"{name} unreadable ({what})" for name, what in self.unreadable]
        return out


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera for one image size. Square pixels; the principal point in pixels."""

    width_px: int
    height_px: int
    focal_px: float
    cx_px: float
    cy_px: float
    source: str  # "calibrated", "sensor_table", "focal_35mm", "focal_plane", "assumed"
    sensor_width_mm: float | None = None
    notes: tuple[str, ...] = ()  # what the metadata offered and was not used (an implausible optical centre)

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
    gnss_sigma_m: float | None = None  # per-axis position error the receiver states (RTK); None: unknown


@dataclass(frozen=True)
class CameraView:
    """A frame ready for georeferencing: its pose and intrinsics, and where each came from."""

    pose: Pose
    intrinsics: Intrinsics
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Unposed:
    """A frame whose camera cannot be placed on the ground, and why (no GPS position, no height, metadata of
    another image shape ...): what placing receives instead of a CameraView."""

    why: str


# What placing takes: a camera that is posed, or one that says why it is not.
Camera = CameraView | Unposed


@dataclass(frozen=True)
class PixelDetection:
    """One object the detector found in one frame, in pixels only: what detection hands to placing.

    `xyxy_px` is in the original frame's pixels. A frame without a usable pose is searched at assumed ground
    resolutions: `assumed_gsd_m` is the one that found this box and `size_m` its extent at it (both None
    when the frame's pose gave the resolution; placing then measures the size on the ground).
    """

    path: str
    class_name: str
    score: float
    xyxy_px: tuple[float, float, float, float]
    size_m: float | None = None
    assumed_gsd_m: float | None = None


@dataclass(frozen=True)
class GroundPoint:
    lat: float
    lon: float
    ground_distance_m: float  # horizontal distance from the point below the camera


@dataclass(frozen=True)
class Sighting:
    """One detection placed on the ground: what the case queue receives from a flight.

    `seen_at` is ISO 8601 (a frame's capture time; without an offset it is read in the squad's local zone).
    `footprint` is the object's outline on the ground as (lat, lon) pairs, first point not repeated.
    The evidence crop comes either as JPEG bytes (stored content-addressed under the data root) or as the
    path of a file already written.
    """

    flight_id: str
    frame_path: str
    class_name: str
    score: float
    xyxy_px: tuple[float, float, float, float]
    lat: float
    lon: float
    seen_at: str
    footprint: tuple[tuple[float, float], ...] = ()
    size_m: float | None = None  # the object's largest ground extent, when known
    position_error_m: float | None = None  # 90 % radius (pipeline.position_error)
    evidence_jpeg: bytes | None = field(default=None, repr=False)
    evidence_path: str | None = None
    # What placing knew (pipeline.placement): the anchor's distance from the point below the camera, and the
    # ground one pixel covers there (metres; None in records written before placing kept them).
    ground_distance_m: float | None = None
    local_gsd_m: float | None = None


@dataclass(frozen=True)
class FrameCoverage:
    """The ground one frame of a flight saw, whether or not anything was detected in it: what lets the queue
    record that an open case was looked at and not seen (the verification, 核查, that it was cleared)."""

    flight_id: str
    frame_path: str
    seen_at: str
    footprint: tuple[tuple[float, float], ...]  # (lat, lon), first point not repeated


@dataclass(frozen=True)
class Detection:
    """One object the detector found in one frame, placed on the ground (pipeline.placement) when it can be.

    `xyxy_px` is in the original frame's pixels. `lat`/`lon` are where the box's ground anchor lands (the box
    centre at nadir, lower in oblique views: pipeline.placement.anchor_px), `footprint` is the whole box
    on the ground as (lat, lon) pairs, first point not repeated. All three are empty when the frame has no
    usable pose. `size_m` is the footprint's largest extent.
    """

    path: str
    class_name: str
    score: float
    xyxy_px: tuple[float, float, float, float]
    lat: float | None = None
    lon: float | None = None
    ground_distance_m: float | None = None  # from the point below the camera
    size_m: float | None = None
    footprint: tuple[tuple[float, float], ...] = ()
    # Frames without a usable pose are searched at a few assumed ground resolutions: the one that found this
    # box (and `size_m` is then the box's extent at it). None when the pose gave the resolution.
    assumed_gsd_m: float | None = None
    position_error_m: float | None = None  # 90 % radius of lat/lon (pipeline.position_error)
    # The ground one pixel covers at the anchor (pipeline.geo.local_gsd_m), when placed. Not in as_dict:
    # the `patrol detect --json` fields are a contract; the sighting carries it on.
    local_gsd_m: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The `patrol detect --json` object."""
        return {
            "path": self.path,
            "class": self.class_name,
            "score": round(self.score, 4),
            "xyxy_px": [round(v, 1) for v in self.xyxy_px],
            "lat": self.lat,
            "lon": self.lon,
            "ground_distance_m": None if self.ground_distance_m is None else round(self.ground_distance_m, 2),
            "size_m": None if self.size_m is None else round(self.size_m, 2),
            "footprint": [[lat, lon] for lat, lon in self.footprint],
            "assumed_gsd_m": None if self.assumed_gsd_m is None else round(self.assumed_gsd_m, 4),
            "position_error_m": None if self.position_error_m is None else round(self.position_error_m, 2),
        }
