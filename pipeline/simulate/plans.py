"""Flight plans: where the drone is and where the gimbal points for each shot, in world east/north metres.

Poses are rounded to what the metadata writer records (0.01 degree, 0.01 m) so that the truth and the files
agree exactly when no GPS noise is asked for: any georeferencing error measured on them is the reader's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pipeline.types import Attitude


@dataclass(frozen=True)
class Shot:
    """One exposure: drone position (world east/north), height above ground, attitudes, time from take-off."""

    east_m: float
    north_m: float
    height_m: float
    gimbal: Attitude
    flight: Attitude
    time_s: float


def _r2(x: float) -> float:
    return round(x, 2)


def wrap_deg(a: float) -> float:
    """Angle in DJI's (-180, 180] range."""
    out = math.fmod(a + 180.0, 360.0)
    out = out + 360.0 if out <= 0 else out
    return out - 180.0


def _shot(
    rng: np.random.Generator,
    east: float,
    north: float,
    height: float,
    yaw: float,
    pitch: float,
    t: float,
    speed: float,
) -> Shot:
    # A stabilised gimbal still wanders by a few tenths of a degree; the airframe leans into its speed.
    g_yaw = wrap_deg(yaw + float(rng.normal(0, 0.6)))
    g_pitch = max(-90.0, min(0.0, pitch + float(rng.normal(0, 0.3))))
    g_roll = float(rng.normal(0, 0.3))
    return Shot(
        east_m=east,
        north_m=north,
        height_m=_r2(height + float(rng.normal(0, 0.3))),
        gimbal=Attitude(_r2(g_yaw), _r2(g_pitch), _r2(g_roll)),
        flight=Attitude(
            _r2(wrap_deg(yaw + float(rng.normal(0, 2.0)))),
            _r2(-0.6 * speed + float(rng.normal(0, 1.0))),
            _r2(float(rng.normal(0, 1.5))),
        ),
        time_s=round(t, 3),
    )


def mapping_plan(
    frames: int,
    centre_en: tuple[float, float],
    height_m: float,
    heading_deg: float,
    footprint_m: tuple[float, float],
    speed_m_s: float,
    seed: int,
    overlap: tuple[float, float] = (0.7, 0.6),
) -> list[Shot]:
    """A lawn-mower survey at nadir: legs along `heading_deg`, `frames` shots in all, centred on centre_en.

    `footprint_m` is the ground (across, along) one nadir frame covers; forward/side overlap set the spacing.
    The camera faces the direction of travel, so alternate legs are turned by 180 degrees.
    """
    rng = np.random.default_rng([seed, 21])
    across, along = footprint_m
    step_along = along * (1.0 - overlap[0])
    step_across = across * (1.0 - overlap[1])
    legs = max(1, round(math.sqrt(frames * step_along / step_across)))
    per_leg = math.ceil(frames / legs)
    h = math.radians(heading_deg)
    fwd = np.array([math.sin(h), math.cos(h)])
    right = np.array([math.cos(h), -math.sin(h)])
    shots: list[Shot] = []
    t = 0.0
    for leg in range(legs):
        offset_across = (leg - (legs - 1) / 2) * step_across
        for k in range(per_leg):
            if len(shots) == frames:
                break
            kk = k if leg % 2 == 0 else per_leg - 1 - k
            offset_along = (kk - (per_leg - 1) / 2) * step_along
            pos = np.asarray(centre_en) + right * offset_across + fwd * offset_along
            yaw = heading_deg if leg % 2 == 0 else heading_deg + 180.0
            shots.append(_shot(rng, float(pos[0]), float(pos[1]), height_m, yaw, -90.0, t, speed_m_s))
            t += step_along / speed_m_s
        t += step_across / speed_m_s + 6.0  # the turn at the end of a leg
    return shots


def corridor_plan(
    frames: int,
    centre_en: tuple[float, float],
    height_m: float,
    heading_deg: float,
    pitch_deg: float,
    spacing_m: float,
    speed_m_s: float,
    seed: int,
) -> list[Shot]:
    """A straight patrol along `heading_deg`, camera ahead at `pitch_deg`, a shot every `spacing_m`."""
    rng = np.random.default_rng([seed, 22])
    h = math.radians(heading_deg)
    fwd = np.array([math.sin(h), math.cos(h)])
    shots = []
    for k in range(frames):
        pos = np.asarray(centre_en) + fwd * (k - (frames - 1) / 2) * spacing_m
        t = k * spacing_m / speed_m_s
        shots.append(_shot(rng, float(pos[0]), float(pos[1]), height_m, heading_deg, pitch_deg, t, speed_m_s))
    return shots
