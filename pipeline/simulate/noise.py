"""Procedural noise defined in world metres, so any tile at any resolution agrees with its neighbours.

Values come from hashing integer lattice coordinates (no stored random state), which is what lets a tile be
rendered alone, in any order, at any pyramid level, and still be seamless and deterministic.
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_F1 = np.uint64(0xBF58476D1CE4E5B9)
_F2 = np.uint64(0x94D049BB133111EB)


def hash01(ix: np.ndarray, iy: np.ndarray, seed: int) -> np.ndarray:
    """Uniform [0, 1) float32 per integer lattice point; a splitmix64-style finaliser mixes the bits."""
    x = np.asarray(ix, dtype=np.int64).astype(np.uint64)
    y = np.asarray(iy, dtype=np.int64).astype(np.uint64)
    # Mixed in Python ints: numpy warns on scalar uint64 overflow, which is the point of the hash.
    s = np.uint64((seed * 0x165667B19E3779F9) & 0xFFFFFFFFFFFFFFFF)
    h = x * _M1 ^ y * _M2 ^ s
    h ^= h >> np.uint64(30)
    h *= _F1
    h ^= h >> np.uint64(27)
    h *= _F2
    h ^= h >> np.uint64(31)
    return ((h >> np.uint64(40)).astype(np.float32)) * np.float32(1.0 / (1 << 24))


def _axis_weights(coords: np.ndarray, cell_m: float) -> tuple[np.ndarray, np.ndarray, int]:
    f = coords / cell_m
    i0 = np.floor(f).astype(np.int64)
    t = (f - i0).astype(np.float32)
    t = t * t * (3.0 - 2.0 * t)  # smoothstep: no visible lattice creases
    base = int(i0.min())
    return i0 - base, t, base


def value_noise(east_m: np.ndarray, north_m: np.ndarray, cell_m: float, seed: int) -> np.ndarray:
    """Smooth noise in [0, 1) on the grid east_m (columns) x north_m (rows); shape (rows, cols), float32.

    Separable interpolation: hash only the lattice points the grid spans, then blend rows, then columns.
    """
    ix, tx, bx = _axis_weights(np.asarray(east_m, dtype=np.float64), cell_m)
    iy, ty, by = _axis_weights(np.asarray(north_m, dtype=np.float64), cell_m)
    gx = np.arange(bx, bx + int(ix.max()) + 2)
    gy = np.arange(by, by + int(iy.max()) + 2)
    grid = hash01(gx[None, :], gy[:, None], seed)
    rows = grid[iy] * (1.0 - ty)[:, None] + grid[iy + 1] * ty[:, None]
    out: np.ndarray = rows[:, ix] * (1.0 - tx)[None, :] + rows[:, ix + 1] * tx[None, :]
    return out


def fbm(
    east_m: np.ndarray,
    north_m: np.ndarray,
    cell_m: float,
    octaves: int,
    seed: int,
    res_m: float,
) -> np.ndarray:
    """Fractal noise in about [0, 1): octaves of halving cell size and amplitude.

    Octaves finer than two texels would only alias at this resolution, so they contribute their mean instead;
    that keeps brightness statistics the same at every pyramid level.
    """
    total = np.zeros((len(north_m), len(east_m)), dtype=np.float32)
    amp, norm, cell = 1.0, 0.0, cell_m
    for k in range(octaves):
        if cell >= 2.0 * res_m:
            total += np.float32(amp) * value_noise(east_m, north_m, cell, seed + 7919 * k)
        else:
            total += np.float32(amp * 0.5)
        norm += amp
        amp *= 0.5
        cell *= 0.5
    total *= np.float32(1.0 / norm)
    return total


def fbm_coarse(
    east_m: np.ndarray,
    north_m: np.ndarray,
    cell_m: float,
    octaves: int,
    seed: int,
    res_m: float,
    step: int,
) -> np.ndarray:
    """`fbm` evaluated on every `step`-th texel and interpolated up: smooth fields need no per-texel hashing.

    Samples sit where cv2.resize expects the centres of the coarse texels, so the field lines up with `fbm`.
    """
    if step <= 1:
        return fbm(east_m, north_m, cell_m, octaves, seed, res_m)
    import cv2

    n_cols, n_rows = len(east_m), len(north_m)
    d_e = (east_m[-1] - east_m[0]) / max(n_cols - 1, 1)
    d_n = (north_m[-1] - north_m[0]) / max(n_rows - 1, 1)
    cols = np.arange(-(-n_cols // step))
    rows = np.arange(-(-n_rows // step))
    sub_e = east_m[0] + ((cols + 0.5) * step - 0.5) * d_e
    sub_n = north_m[0] + ((rows + 0.5) * step - 0.5) * d_n
    small = fbm(sub_e, sub_n, cell_m, octaves, seed, res_m)
    big: np.ndarray = cv2.resize(small, (len(cols) * step, len(rows) * step), interpolation=cv2.INTER_LINEAR)
    return big[:n_rows, :n_cols]
