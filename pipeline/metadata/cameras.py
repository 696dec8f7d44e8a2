"""Camera intrinsics: a small sensor table keyed by the EXIF Model string, and the fallbacks around it.

Pixel coordinates are continuous with (0, 0) at the top-left corner of the image and pixel centres at
i + 0.5, so the principal point of an ideal camera is (width / 2, height / 2).

Priority in `intrinsics_for`:
1. `calibrated`: DJI CalibratedFocalLength, only where it is plausibly pixels for this camera (within 15% of
   what the sensor table predicts, or, for a camera not in the table, a horizontal FOV of 30..100 degrees),
   scaled by width / native width when the image was resized.
2. `sensor_table`: focal_mm * width_px / sensor_width_mm, valid where the image is the full sensor or a
   full-width crop of it (DJI's 16:9 photos keep the sensor width and cut the height), at native size or
   smaller. An image wider than the native width, or of another aspect, is another camera of the same
   aircraft (zoom, thermal) and gets no table entry.
3. `focal_35mm`: the 35 mm equivalent relates DIAGONALS (the 43.27 mm diagonal of a 36 x 24 mm frame), as
   camera makers compute it, over the diagonal of the full sensor. A 16:9 image (wider than 3:2) is taken as
   the full-width crop of a 4:3 sensor, which is what drones write (DJI's 16:9 frames carry the 4:3
   sensor's 35 mm value). With focal_mm also known this gives the sensor width (crop factor) too.
4. `focal_plane`: focal_mm * EXIF FocalPlaneXResolution (pixels per sensor millimetre), which compact
   cameras (Canon's, for one) write instead of a 35 mm equivalent. It counts pixels of the image EXIF
   describes (ExifImageWidth), so it is scaled by width / that width for a resized copy; a value that
   makes the sensor narrower than 2 mm or wider than 60 mm, or the view narrower than 10 or wider than 120
   degrees, is another image's or nonsense, and is not used.
5. Otherwise MetadataError.

The principal point is DJI's CalibratedOpticalCenterX/Y where it is plausible, else the image centre (with a
note saying why). DJI writes it, like CalibratedFocalLength, in pixels of the native sensor resolution (the
table's native size, else what EXIF says the original was): its offset from the native centre is the lens's
decentring, which scales with the image like the focal length does and sits at the same place relative to the
image centre in a centred crop. So cx = width / 2 + (CalibratedOpticalCenterX - native_width / 2) * scale,
and the same for y, with scale = long side / native long side. Scaling the written value itself instead would
move the centre of a 4000 x 3000 photo from a 5280 x 3956 sensor by 1.5 px (the two aspects differ), which is
not where the simulator (pipeline.simulate.flight.photo_meta) or a centred lens puts it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.errors import MetadataError
from pipeline.types import ImageMeta, Intrinsics

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)  # 43.27 mm


@dataclass(frozen=True)
class Camera:
    name: str  # the aircraft / payload, for people
    sensor_width_mm: float
    sensor_height_mm: float
    native_width_px: int
    native_height_px: int
    focal_mm: float  # nominal; EXIF FocalLength wins where present (zoom lenses, P1's interchangeable lenses)

    @property
    def aspect(self) -> float:
        return self.native_width_px / self.native_height_px


# EXIF Model strings as the cameras write them. Sensor sizes are the makers' nominal figures
# (1/2.3" = 6.17 x 4.55 mm, 1" = 13.2 x 8.8 mm, 4/3 = 17.3 x 13.0 mm, 1/2" 48 MP = 6.4 x 4.8 mm).
_TYPE_1_2_3 = (6.17, 4.55)
_TYPE_1 = (13.2, 8.8)
_TYPE_4_3 = (17.3, 13.0)
_TYPE_1_2_48MP = (6.4, 4.8)
_TYPE_1_1_3 = (9.7, 7.3)  # 1/1.3" 48 MP (Mini 3 Pro / Mini 4 Pro)

CAMERAS: dict[str, Camera] = {
    "FC300S": Camera("Phantom 3 Advanced", *_TYPE_1_2_3, 4000, 3000, 3.61),
    "FC300X": Camera("Phantom 3 Professional", *_TYPE_1_2_3, 4000, 3000, 3.61),
    "FC300C": Camera("Phantom 3 Standard", *_TYPE_1_2_3, 4000, 3000, 3.61),
    "FC330": Camera("Phantom 4", *_TYPE_1_2_3, 4000, 3000, 3.61),
    "FC220": Camera("Mavic Pro", *_TYPE_1_2_3, 4000, 3000, 4.73),
    "FC6310": Camera("Phantom 4 Pro / Advanced", *_TYPE_1, 5472, 3648, 8.8),
    "FC6310S": Camera("Phantom 4 Pro V2.0", *_TYPE_1, 5472, 3648, 8.8),
    "FC6310R": Camera("Phantom 4 RTK", *_TYPE_1, 5472, 3648, 8.8),
    "L1D-20C": Camera("Mavic 2 Pro (Hasselblad L1D-20c)", *_TYPE_1, 5472, 3648, 10.26),
    "FC3411": Camera("Air 2S", *_TYPE_1, 5472, 3648, 8.38),
    "FC3170": Camera("Mavic Air 2", *_TYPE_1_2_48MP, 8000, 6000, 4.49),
    "FC3582": Camera("Mini 3 Pro", *_TYPE_1_1_3, 8064, 6048, 6.72),
    "FC8482": Camera("Mini 4 Pro", *_TYPE_1_1_3, 8064, 6048, 6.72),
    "L2D-20C": Camera("Mavic 3 (Hasselblad L2D-20c)", *_TYPE_4_3, 5280, 3956, 12.29),
    "M3E": Camera("Mavic 3 Enterprise", *_TYPE_4_3, 5280, 3956, 12.29),
    "M3T": Camera("Mavic 3 Thermal (wide)", *_TYPE_1_2_48MP, 8000, 6000, 4.4),
    "M30": Camera("Matrice 30 (wide)", *_TYPE_1_2_48MP, 8000, 6000, 4.5),
    "M30T": Camera("Matrice 30T (wide)", *_TYPE_1_2_48MP, 8000, 6000, 4.5),
    "ZH20": Camera("Zenmuse H20 (wide)", 6.29, 4.71, 4056, 3040, 4.5),
    "ZH20T": Camera("Zenmuse H20T (wide)", 6.29, 4.71, 4056, 3040, 4.5),
    "ZH20N": Camera("Zenmuse H20N (wide)", 6.29, 4.71, 4056, 3040, 4.5),
    "ZENMUSEP1": Camera("Zenmuse P1", 35.9, 24.0, 8192, 5460, 35.0),
}
_ALIASES = {"P1": "ZENMUSEP1"}


def _key(model: str) -> str:
    key = "".join(model.split()).upper()
    return _ALIASES.get(key, key)


def camera_for(model: str | None) -> Camera | None:
    """The table entry for an EXIF Model string (case and spaces ignored), or None."""
    if not model:
        return None
    return CAMERAS.get(_key(model))


def _sensor_aspect(width_px: int, height_px: int) -> float:
    """Aspect of the full sensor behind an image: the image's own, unless wider than 3:2 (a crop of 4:3)."""
    aspect = max(width_px, height_px) / min(width_px, height_px)
    return aspect if aspect <= 1.5 + 1e-3 else 4.0 / 3.0


def _full_width_crop(width_px: int, height_px: int, camera: Camera) -> bool:
    aspect = max(width_px, height_px) / min(width_px, height_px)
    if abs(aspect - camera.aspect) / camera.aspect < 0.02:
        return True
    return aspect > camera.aspect and abs(aspect - 16.0 / 9.0) < 0.02  # DJI's 16:9 mode cuts the height


def takes_frames(camera: Camera, width_px: int, height_px: int) -> bool:
    """Whether this camera's sensor, at native size or smaller, whole or a full-width crop, gives frames of
    this size: what the table (and DJI's calibrated values, in native pixels) describes."""
    long_px = max(width_px, height_px)
    return long_px <= camera.native_width_px * 1.01 and _full_width_crop(width_px, height_px, camera)


def _table_focal_px(meta: ImageMeta, width_px: int, height_px: int, camera: Camera) -> float | None:
    long_px = max(width_px, height_px)
    if not takes_frames(camera, width_px, height_px):
        return None
    focal_mm = meta.focal_mm if meta.focal_mm else camera.focal_mm
    return focal_mm * long_px / camera.sensor_width_mm


def _hfov_deg(width_px: int, focal_px: float) -> float:
    return math.degrees(2.0 * math.atan(width_px / (2.0 * focal_px)))


def _calibrated_focal_px(
    meta: ImageMeta, width_px: int, height_px: int, expected_px: float | None
) -> float | None:
    cal = meta.calibrated_focal_px
    if cal is None or cal <= 0.0:
        return None
    camera = camera_for(meta.model)
    # CalibratedFocalLength is written for the native sensor resolution; rescale for a resized image.
    long_px = max(width_px, height_px)
    reference_px = (
        camera.native_width_px if camera else max(meta.exif_width or 0, meta.exif_height or 0, long_px)
    )
    scaled = cal * long_px / reference_px
    if expected_px is not None:
        return scaled if 0.85 <= scaled / expected_px <= 1.15 else None
    return scaled if 30.0 <= _hfov_deg(width_px, scaled) <= 100.0 else None


# A lens's principal point lies within a few per cent of the image centre (decentring of the lens and its
# mount, tens of pixels on a 20 MP sensor); one farther off than this share of the width or height is no
# principal point of this image (millimetres, another camera's or another crop's pixels), and the centre is
# the better guess. Generous on purpose: only nonsense is refused.
MAX_CENTRE_OFFSET = 0.10


def _native_size(meta: ImageMeta, width_px: int, height_px: int, table_applies: bool) -> tuple[int, int]:
    """The pixel grid DJI's calibrated values are written in: the sensor table's native size where the
    table describes this image, else EXIF's original size, else the image's own."""
    camera = camera_for(meta.model)
    if table_applies and camera is not None:
        return camera.native_width_px, camera.native_height_px
    if meta.exif_width and meta.exif_height:
        return meta.exif_width, meta.exif_height
    return width_px, height_px


def _principal_point(
    meta: ImageMeta, width_px: int, height_px: int, table_applies: bool
) -> tuple[float, float, tuple[str, ...]]:
    """(cx, cy, notes): the calibrated optical centre in this image's pixels, or the centre and why."""
    centre = (width_px / 2.0, height_px / 2.0)
    cx, cy = meta.calibrated_cx_px, meta.calibrated_cy_px
    unreadable = {name for name, _ in meta.unreadable}
    if {"calibrated_cx_px", "calibrated_cy_px"} & unreadable:
        return (*centre, ("calibrated optical centre unreadable: image centre used",))
    if cx is None and cy is None:
        return (*centre, ())
    if cx is None or cy is None:
        return (*centre, ("calibrated optical centre has only one coordinate: image centre used",))
    native_w, native_h = _native_size(meta, width_px, height_px, table_applies)
    written = f"calibrated optical centre ({cx:g}, {cy:g})"
    if (native_w >= native_h) != (width_px >= height_px):
        # A turned image: which way it was turned decides where the point goes, and nothing says which.
        return (
            *centre,
            (f"{written} is for the {native_w}x{native_h} sensor, not this turned image: image centre used",),
        )
    if not (0.0 < cx < native_w and 0.0 < cy < native_h):
        return (*centre, (f"{written} is outside the {native_w}x{native_h} image: image centre used",))
    off_x, off_y = cx - native_w / 2.0, cy - native_h / 2.0
    if abs(off_x) > MAX_CENTRE_OFFSET * native_w or abs(off_y) > MAX_CENTRE_OFFSET * native_h:
        share = max(abs(off_x) / native_w, abs(off_y) / native_h)
        return (
            *centre,
            (
                f"{written} is {share:.0%} of the {native_w}x{native_h} image off its centre, not a lens's "
                "principal point: image centre used",
            ),
        )
    scale = max(width_px, height_px) / max(native_w, native_h)
    return centre[0] + off_x * scale, centre[1] + off_y * scale, ()


def intrinsics_for(meta: ImageMeta) -> Intrinsics:
    """A pinhole camera for this image (see the module docstring for the order of sources)."""
    width, height = meta.width, meta.height
    if not width or not height:
        raise MetadataError("image size unknown: no intrinsics", meta.path)

    camera = camera_for(meta.model)
    table_px = _table_focal_px(meta, width, height, camera) if camera else None
    cx, cy, notes = _principal_point(meta, width, height, table_px is not None)

    def make(focal_px: float, source: str, sensor_width_mm: float | None) -> Intrinsics:
        return Intrinsics(width, height, focal_px, cx, cy, source, sensor_width_mm, notes)

    calibrated = _calibrated_focal_px(meta, width, height, table_px)
    if calibrated is not None:
        return make(calibrated, "calibrated", camera.sensor_width_mm if camera else None)
    if table_px is not None and camera is not None:
        return make(table_px, "sensor_table", camera.sensor_width_mm)
    if meta.focal_35mm:
        aspect = _sensor_aspect(width, height)
        long_px = max(width, height)
        diagonal_px = long_px * math.hypot(1.0, 1.0 / aspect)
        focal_px = meta.focal_35mm / FULL_FRAME_DIAGONAL_MM * diagonal_px
        sensor_width_mm = None
        if meta.focal_mm:  # the crop factor gives the sensor: diagonal = 43.27 mm / (f35 / f)
            sensor_diagonal_mm = FULL_FRAME_DIAGONAL_MM * meta.focal_mm / meta.focal_35mm
            sensor_width_mm = sensor_diagonal_mm / math.hypot(1.0, 1.0 / aspect)
        return make(focal_px, "focal_35mm", sensor_width_mm)
    plane = _focal_plane(meta, width, height)
    if plane is not None:
        return make(plane[0], "focal_plane", plane[1])
    raise MetadataError(
        f"no intrinsics: camera {meta.model!r} not in the sensor table and no usable focal length", meta.path
    )


# What a camera's focal-plane resolution may imply (see the module docstring, item 4).
SENSOR_WIDTH_MM = (2.0, 60.0)
FOCAL_PLANE_HFOV_DEG = (10.0, 120.0)


def _focal_plane(meta: ImageMeta, width_px: int, height_px: int) -> tuple[float, float] | None:
    """(focal_px, sensor_width_mm) from the focal length and the focal-plane resolution, where plausible."""
    if not meta.focal_mm or not meta.focal_plane_px_per_mm:
        return None
    px_per_mm = meta.focal_plane_px_per_mm
    written_long = max(meta.exif_width or 0, meta.exif_height or 0)
    if written_long:  # a resized copy keeps the original's tag
        px_per_mm *= max(width_px, height_px) / written_long
    focal_px = meta.focal_mm * px_per_mm
    sensor_width_mm = width_px / px_per_mm
    if not SENSOR_WIDTH_MM[0] <= sensor_width_mm <= SENSOR_WIDTH_MM[1]:
        return None
    if not FOCAL_PLANE_HFOV_DEG[0] <= _hfov_deg(width_px, focal_px) <= FOCAL_PLANE_HFOV_DEG[1]:
        return None
    return focal_px, sensor_width_mm
