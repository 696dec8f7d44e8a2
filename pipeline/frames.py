"""From files to georeferencing-ready views: the edge where metadata readers meet the camera model."""

from __future__ import annotations

from pathlib import Path

from pipeline import geo
from pipeline.errors import GeoreferenceError
from pipeline.types import CameraView, ImageMeta, SrtEntry


def view_for_meta(meta: ImageMeta, ground_elevation_m: float | None = None) -> CameraView:
    """The camera view a photo's metadata gives, with the intrinsics' source among its notes."""
    from pipeline.metadata import intrinsics_for

    intrinsics = intrinsics_for(meta)
    if intrinsics is None:
        raise GeoreferenceError("no focal length or known camera to build intrinsics from", meta.path)
    return geo.view_from_meta(meta, intrinsics, ground_elevation_m)


def view_for_image(path: Path, ground_elevation_m: float | None = None) -> CameraView:
    from pipeline.metadata import read_image_meta

    return view_for_meta(read_image_meta(path), ground_elevation_m)


def meta_from_srt_entry(
    entry: SrtEntry, path: str, width_px: int, height_px: int, model: str | None = None
) -> ImageMeta:
    """A video frame's telemetry as an ImageMeta, so photos and video share one georeferencing path."""
    return ImageMeta(
        path=f"{path}#{entry.index}",
        width=width_px,
        height=height_px,
        model=model,
        lat=entry.lat,
        lon=entry.lon,
        abs_alt_m=entry.abs_alt_m,
        rel_alt_m=entry.rel_alt_m,
        gimbal_yaw_deg=entry.gimbal_yaw_deg,
        gimbal_pitch_deg=entry.gimbal_pitch_deg,
        gimbal_roll_deg=entry.gimbal_roll_deg,
        flight_yaw_deg=entry.flight_yaw_deg,
        flight_pitch_deg=entry.flight_pitch_deg,
        flight_roll_deg=entry.flight_roll_deg,
        focal_mm=entry.focal_mm,
        focal_35mm=entry.focal_35mm,
    )
