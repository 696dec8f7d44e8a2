"""From files to georeferencing-ready views: the edge where metadata readers meet the camera model."""

from __future__ import annotations

from pathlib import Path

from pipeline import geo
from pipeline.errors import GeoreferenceError
from pipeline.types import CameraView, ImageMeta


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
