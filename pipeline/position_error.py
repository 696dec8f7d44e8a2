"""How far a placed detection may be from the object: a 90 % radius from the geometry of the view. Pure.

A pixel is placed on the ground by intersecting its ray with a flat ground plane (pipeline.geo). Its error
is the sum of independent parts, each a standard deviation in metres along one horizontal axis:

- the camera's own position: the GNSS error, from DJI's RTK accuracy tags (`RtkStdLat/Lon`) when the frame
  has an RTK solution, else a stated default for single-point GNSS;
- the height above the ground plane (barometer drift, terrain not level with the take-off point): moves a
  point at ground distance d by sigma_h * d / h;
- the depression angle (gimbal and IMU): d = h * cot(angle), so an error of sigma_a radians moves the point
  along the line of sight by sigma_a * r^2 / h, r the slant range;
- the heading: sigma_a * d across the line of sight;
- where on the box the object's ground position is taken (pipeline.placement.anchor_px): a share of
  the object's extent.

The parts are added as variances and the sum treated as a circular normal per axis, whose 90 % radius is
sigma * sqrt(2 ln 10) = 2.146 sigma. Treating the along-range and across-range parts as if each acted on both
axes overstates the radius a little; a stated radius that is too small would split one object into several
cases, one too large only merges less eagerly, and the merge also bounds it by the objects' sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RADIUS90_PER_SIGMA = math.sqrt(2.0 * math.log(10.0))


@dataclass(frozen=True)
class ErrorModel:
    # Single-point GNSS on a DJI aircraft: the spec sheets give +-1.5 m horizontal hovering accuracy, which
    # is the aircraft's stability, not its absolute error; 2 m per axis is what mapping flights without RTK
    # show against ground control in published checks.
    gnss_sigma_m: float = 2.0
    rtk_floor_m: float = 0.05  # an RTK fix's stated accuracy is never taken below this
    height_sigma_m: float = 1.5
    angle_sigma_deg: float = 1.0
    anchor_share: float = 0.15  # of the object's ground extent
    typical_size_m: float = 6.0  # when the extent is unknown


DEFAULT_MODEL = ErrorModel()


def gnss_sigma_m(rtk_std_m: float | None, model: ErrorModel = DEFAULT_MODEL) -> float:
    """Per-axis GNSS error: the RTK solution's own, where the frame carries one, else the default."""
    if rtk_std_m is None or not math.isfinite(rtk_std_m) or rtk_std_m <= 0.0:
        return model.gnss_sigma_m
    return max(rtk_std_m, model.rtk_floor_m)


def sighting_sigma_m(
    height_m: float,
    ground_distance_m: float,
    gnss_m: float,
    size_m: float | None = None,
    model: ErrorModel = DEFAULT_MODEL,
) -> float:
    """Per-axis standard deviation of a placed point (module docstring)."""
    h = max(height_m, 1.0)
    d = max(ground_distance_m, 0.0)
    a = math.radians(model.angle_sigma_deg)
    along = math.hypot(model.height_sigma_m * d / h, a * (h * h + d * d) / h)
    across = a * d
    size = model.typical_size_m if size_m is None else size_m
    anchor = model.anchor_share * size
    return math.sqrt(gnss_m**2 + along**2 + across**2 + anchor**2)


def radius90_m(sigma_m: float) -> float:
    return RADIUS90_PER_SIGMA * sigma_m


def sighting_error_m(
    height_m: float,
    ground_distance_m: float,
    gnss_m: float,
    size_m: float | None = None,
    model: ErrorModel = DEFAULT_MODEL,
) -> float:
    """The 90 % radius of a placed point, metres."""
    return radius90_m(sighting_sigma_m(height_m, ground_distance_m, gnss_m, size_m, model))


def combined_error_m(errors_by_flight: dict[str, list[float]]) -> float | None:
    """The 90 % radius of an object's position averaged over sightings from several flights.

    Within one flight the sightings share the aircraft's GNSS and attitude errors, which change slowly, so
    averaging them does not shrink the error: a flight counts with its best sighting. Flights are independent
    and combine as inverse variances.
    """
    best = [min(v) for v in errors_by_flight.values() if v]
    if not best:
        return None
    return 1.0 / math.sqrt(sum(1.0 / (e * e) for e in best))
