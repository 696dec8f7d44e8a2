"""What fills a block: scenery, targets and look-alike distractors, generated from (world seed, block).

Targets come in several looks per class (blue steel sheds, rooftop add-ons, shacks against walls; heaps of
mixed debris) with sizes, colours and orientations drawn per object, and the distractors deliberately share
their colours or textures (blue courts and pools, tarps on trucks, market canopies, tidy stacks, groups of
people in bright clothes), so a model cannot learn "blue rectangle" or "colourful clutter".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from pipeline.simulate.world import Part, World, WorldObject

LAYER_COVER, LAYER_ROAD, LAYER_MARK, LAYER_GROUND, LAYER_BUILDING, LAYER_ROOF, LAYER_TREE = range(7)
SIDEWALK_M = 2.5
BLOCK_KINDS = ("village", "industrial", "vacant", "park", "residential")
BLOCK_WEIGHTS = (0.32, 0.22, 0.22, 0.12, 0.12)
# Share of targets that appear only on a later night, and the nights they may appear on.
NEW_TARGET_SHARE = 0.3
MAX_NIGHT = 30

Rgb = tuple[float, float, float]


def bgr(rgb: Sequence[float]) -> tuple[float, float, float]:
    return float(rgb[2]), float(rgb[1]), float(rgb[0])


ROOFS: tuple[Rgb, ...] = ((165, 160, 150), (120, 118, 115), (165, 88, 62), (212, 210, 204), (125, 150, 125))
BLUE_STEEL: tuple[Rgb, ...] = ((52, 105, 190), (40, 80, 160), (70, 135, 205), (60, 120, 175), (35, 95, 215))
OTHER_STEEL: tuple[Rgb, ...] = ((200, 200, 198), (150, 152, 155), (175, 105, 70), (90, 120, 150))
TARPS: tuple[Rgb, ...] = ((45, 95, 185), (55, 125, 75), (215, 115, 45), (140, 140, 135), (40, 120, 200))
CANOPIES: tuple[Rgb, ...] = ((50, 100, 190), (195, 55, 45), (230, 230, 225), (225, 190, 60), (60, 140, 90))
CARS: tuple[Rgb, ...] = (
    (235, 235, 232),
    (30, 30, 34),
    (160, 162, 165),
    (180, 30, 30),
    (40, 70, 150),
    (90, 90, 95),
)
DEBRIS: tuple[Rgb, ...] = (
    (228, 228, 222),
    (38, 38, 40),
    (55, 95, 175),
    (150, 115, 75),
    (132, 128, 120),
    (150, 78, 58),
    (75, 112, 62),
    (205, 182, 105),
    (190, 70, 60),
)
# Clothing seen from above: hi-vis vests and kit as well as everyday colours.
CLOTHES: tuple[Rgb, ...] = (
    (215, 230, 60),
    (240, 125, 35),
    (200, 45, 45),
    (235, 235, 230),
    (45, 75, 160),
    (35, 35, 38),
    (110, 150, 70),
)
# Groups of people a block holds on average, drawn after everything else from the block's own second stream
# (so adding them moved nothing): a team on a pitch, a picnic, workers on a lot.
PEOPLE_GROUPS = {"village": 0.6, "industrial": 0.5, "vacant": 0.5, "park": 1.5, "residential": 0.8}
STACKS: tuple[Rgb, ...] = ((158, 82, 60), (150, 150, 156), (188, 152, 102), (178, 176, 170), (62, 102, 172))


class _Block:
    """Builder for one block: its rng, its grid-local rectangle, what is already placed."""

    def __init__(self, world: World, i: int, j: int) -> None:
        self.world, self.i, self.j = world, i, j
        self.rng = np.random.default_rng([world.seed, 2, i + 100_000, j + 100_000])
        self.u0 = world.roads_u[i] + world.widths_u[i] / 2 + SIDEWALK_M
        self.u1 = world.roads_u[i + 1] - world.widths_u[i + 1] / 2 - SIDEWALK_M
        self.v0 = world.roads_v[j] + world.widths_v[j] / 2 + SIDEWALK_M
        self.v1 = world.roads_v[j + 1] - world.widths_v[j + 1] / 2 - SIDEWALK_M
        self.objects: list[WorldObject] = []
        self.taken: list[tuple[float, float, float, float]] = []
        self.count = 0

    # --- geometry ---------------------------------------------------------------------------------------
    def rect(self, cu: float, cv: float, w: float, ln: float, ang: float = 0.0) -> np.ndarray:
        """World polygon of a w x ln rectangle centred at grid (cu, cv), turned `ang` degrees in the grid."""
        a = math.radians(ang)
        local = np.array([[-w, -ln], [w, -ln], [w, ln], [-w, ln]], dtype=float) / 2.0
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        return self.world.to_world(local @ rot.T + [cu, cv])

    def circle(self, cu: float, cv: float, r: float, n: int = 14, wobble: float = 0.0) -> np.ndarray:
        t = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
        rr = r * (1.0 + wobble * self.rng.uniform(-1.0, 1.0, n))
        return self.world.to_world(np.column_stack([cu + rr * np.cos(t), cv + rr * np.sin(t)]))

    def angle(self, ang: float) -> float:
        """A grid-relative angle as a world pattern angle."""
        return self.world.rotation_deg + ang

    def place(
        self,
        w: float,
        ln: float,
        ang: float = 0.0,
        margin: float = 1.0,
        region: tuple[float, float, float, float] | None = None,
        tries: int = 25,
    ) -> tuple[float, float] | None:
        """A free spot for a w x ln rectangle (its turned bounding box plus margin), or None."""
        a = math.radians(ang)
        hu = abs(w / 2 * math.cos(a)) + abs(ln / 2 * math.sin(a)) + margin
        hv = abs(w / 2 * math.sin(a)) + abs(ln / 2 * math.cos(a)) + margin
        u0, v0, u1, v1 = region if region is not None else (self.u0, self.v0, self.u1, self.v1)
        if u1 - u0 < 2 * hu or v1 - v0 < 2 * hv:
            return None
        for _ in range(tries):
            cu, cv = float(self.rng.uniform(u0 + hu, u1 - hu)), float(self.rng.uniform(v0 + hv, v1 - hv))
            box = (cu - hu, cv - hv, cu + hu, cv + hv)
            if all(box[2] <= t[0] or box[0] >= t[2] or box[3] <= t[1] or box[1] >= t[3] for t in self.taken):
                self.taken.append(box)
                return cu, cv
        return None

    def reserve(self, u0: float, v0: float, u1: float, v1: float) -> None:
        self.taken.append((u0, v0, u1, v1))

    # --- life and registration -----------------------------------------------------------------------------
    def add(
        self,
        kind: str,
        footprint: np.ndarray,
        parts: Sequence[Part],
        layer: int,
        cls: str | None = None,
        growth_share: float = 0.0,
    ) -> None:
        self.count += 1
        prefix = {"illegal_construction": "IC", "garbage_pile": "GP"}.get(cls or "", "S")
        oid = f"{prefix}-w{self.world.seed}-b{self.i}_{self.j}-{self.count:03d}"
        born, cleared, growth = 0, None, 0.0
        if cls is not None:
            if self.rng.random() < NEW_TARGET_SHARE:
                born = int(self.rng.integers(1, MAX_NIGHT + 1))
            # About one in twelve targets is cleared on any given night after it appears.
            cleared = born + int(self.rng.geometric(0.08))
            if self.rng.random() < growth_share:
                growth = float(self.rng.uniform(0.05, 0.15))
        self.objects.append(
            WorldObject(oid, kind, cls, footprint, tuple(parts), layer, born, cleared, growth)
        )

    def jitter(self, rgb: Rgb, amount: float = 18.0) -> tuple[float, float, float]:
        # Mostly lighter/darker, a little hue: real roofs vary in wear more than in colour.
        d = self.rng.uniform(-amount, amount) + self.rng.uniform(-amount, amount, 3) * 0.3
        out = np.clip(np.asarray(rgb) + d, 0, 255)
        return float(out[2]), float(out[1]), float(out[0])

    def pick(self, palette: Sequence[Rgb]) -> Rgb:
        return palette[int(self.rng.integers(len(palette)))]


# --- look builders ------------------------------------------------------------------------------------------


def _steel_roof(b: _Block, cu: float, cv: float, w: float, ln: float, ang: float, rgb: Rgb, h: float) -> Part:
    """Corrugated steel: ridges run down the slope, across the long axis; gable roofs shade by side."""
    pattern = "gable" if b.rng.random() < 0.6 else "corrugated"
    return Part(
        b.rect(cu, cv, w, ln, ang),
        b.jitter(rgb, 14),
        pattern,
        b.angle(ang + 90.0),
        float(b.rng.uniform(0.14, 0.3)),
        h,
    )


def shed(b: _Block, region: tuple[float, float, float, float] | None = None, big: bool = False) -> None:
    """A blue corrugated steel-roof shed: the commonest illegal structure seen from the air."""
    w = float(b.rng.uniform(3.5, 9.0 if not big else 12.0))
    ln = w * float(b.rng.uniform(1.2, 2.4))
    ang = float(b.rng.choice([0.0, 90.0])) + float(b.rng.uniform(-8, 8))
    spot = b.place(w, ln, ang, 1.5, region)
    if spot is None:
        return
    rgb = b.pick(BLUE_STEEL) if b.rng.random() < 0.85 else b.pick(OTHER_STEEL)
    roof = _steel_roof(b, spot[0], spot[1], w, ln, ang, rgb, float(b.rng.uniform(2.5, 4.5)))
    b.add("blue_shed", roof.poly, [roof], LAYER_BUILDING, "illegal_construction", growth_share=0.1)


def building(
    b: _Block, cu: float, cv: float, w: float, ln: float, ang: float, h: float, addon_p: float
) -> None:
    roof_rgb = b.pick(ROOFS)
    outer = b.rect(cu, cv, w, ln, ang)
    parts = [
        Part(outer, b.jitter(roof_rgb, 10), "grain", height_m=h),
        Part(b.rect(cu, cv, w - 0.7, ln - 0.7, ang), b.jitter(roof_rgb, 22), "grain"),
    ]
    # Rooftop clutter that is legal: water tanks, stair houses, AC units, solar heaters.
    for _ in range(int(b.rng.integers(0, 4))):
        du, dv = b.rng.uniform(-0.3, 0.3, 2) * (w, ln)
        tank_rgb = b.pick(((60, 110, 190), (225, 225, 225), (170, 170, 175)))
        parts.append(
            Part(
                b.circle(cu + du, cv + dv, float(b.rng.uniform(0.5, 0.9)), 10),
                b.jitter(tank_rgb),
                "flat",
                0,
                0,
                1.2,
            )
        )
    if b.rng.random() < 0.5:
        du, dv = b.rng.uniform(-0.25, 0.25, 2) * (w, ln)
        parts.append(
            Part(b.rect(cu + du, cv + dv, 3.0, 3.5, ang), b.jitter((140, 138, 132)), "grain", height_m=2.8)
        )
    if b.rng.random() < 0.3:
        du, dv = b.rng.uniform(-0.25, 0.25, 2) * (w, ln)
        parts.append(
            Part(
                b.rect(cu + du, cv + dv, 2.0, 1.2, ang), bgr((40, 55, 90)), "stripes", b.angle(ang), 0.12, 0.6
            )
        )
    b.add("building", outer, parts, LAYER_BUILDING)
    if b.rng.random() < addon_p:
        # A rooftop add-on covers part of the roof, flush with one edge, like the real penthouse sheds.
        fw, fl = w * float(b.rng.uniform(0.35, 0.8)), ln * float(b.rng.uniform(0.3, 0.7))
        su, sv = (w - fw) / 2 * b.rng.choice([-1, 1]), (ln - fl) / 2 * float(b.rng.uniform(-1, 1))
        a = math.radians(ang)
        au, av = cu + su * math.cos(a) - sv * math.sin(a), cv + su * math.sin(a) + sv * math.cos(a)
        rgb = b.pick(BLUE_STEEL) if b.rng.random() < 0.6 else b.pick(OTHER_STEEL)
        roof = _steel_roof(b, au, av, fw - 0.4, fl - 0.4, ang, rgb, 2.6)
        b.add("rooftop_addon", roof.poly, [roof], LAYER_ROOF, "illegal_construction", growth_share=0.1)


def wall(b: _Block, u0: float, v0: float, u1: float, v1: float) -> None:
    """A thin boundary wall along a grid-aligned segment."""
    cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
    length = math.hypot(u1 - u0, v1 - v0)
    ang = math.degrees(math.atan2(v1 - v0, u1 - u0)) - 90.0
    poly = b.rect(cu, cv, 0.3, length, ang)
    b.add("wall", poly, [Part(poly, b.jitter((190, 185, 175), 10), "grain", height_m=2.4)], LAYER_GROUND)


def wall_shack(b: _Block, side: int, inset: float = 0.2) -> None:
    """A lean-to built against the block's wall on one side (0..3): roof sloping away from the wall."""
    w, d = float(b.rng.uniform(2.5, 7.0)), float(b.rng.uniform(1.6, 3.2))
    if side in (0, 1):  # against the walls at v0 / v1, running along u
        v = b.v0 + inset + d / 2 if side == 0 else b.v1 - inset - d / 2
        region = (b.u0, v - d / 2 - 0.1, b.u1, v + d / 2 + 0.1)
        spot = b.place(w, d, 0.0, 0.05, region)
        ang = 0.0
    else:
        u = b.u0 + inset + d / 2 if side == 2 else b.u1 - inset - d / 2
        region = (u - d / 2 - 0.1, b.v0, u + d / 2 + 0.1, b.v1)
        spot = b.place(d, w, 0.0, 0.05, region)
        ang = 90.0
    if spot is None:
        return
    rgb = b.pick(BLUE_STEEL + OTHER_STEEL + ((120, 118, 110),))
    poly = b.rect(spot[0], spot[1], w, d, ang) if side in (0, 1) else b.rect(spot[0], spot[1], d, w, 0.0)
    part = Part(
        poly, b.jitter(rgb, 14), "corrugated", b.angle(ang + 90.0), float(b.rng.uniform(0.15, 0.3)), 2.4
    )
    b.add("wall_shack", poly, [part], LAYER_BUILDING, "illegal_construction")


def garbage_pile(
    b: _Block, rmin: float, rmax: float, region: tuple[float, float, float, float] | None = None
) -> None:
    """An irregular heap: a dark base blob strewn with bags, cardboard, rubble and scraps of many colours."""
    r = float(b.rng.uniform(rmin, rmax))
    spot = b.place(2 * r, 2 * r, 0.0, 0.8, region)
    if spot is None:
        return
    cu, cv = spot
    n = 20
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    phases = b.rng.uniform(0, 2 * math.pi, 3)
    radius = r * (0.75 + 0.12 * np.sin(2 * t + phases[0]) + 0.08 * np.sin(3 * t + phases[1]))
    radius *= 1.0 + 0.08 * b.rng.uniform(-1, 1, n)
    blob_local = np.column_stack([cu + radius * np.cos(t), cv + radius * np.sin(t)])
    blob = b.world.to_world(blob_local)
    base = b.pick(((95, 85, 72), (110, 104, 96), (80, 72, 60), (120, 108, 88)))
    parts = [Part(blob, b.jitter(base, 12), "debris", height_m=float(b.rng.uniform(0.6, 1.6)))]
    palette_idx = b.rng.choice(len(DEBRIS), size=int(b.rng.integers(3, 7)), replace=False)
    count = int(np.clip(np.pi * r * r * 2.5, 15, 260))
    for _ in range(count):
        k = int(b.rng.integers(n))
        frac = math.sqrt(float(b.rng.random())) * 0.9
        pu = cu + (blob_local[k, 0] - cu) * frac
        pv = cv + (blob_local[k, 1] - cv) * frac
        size = float(b.rng.uniform(0.15, 0.7)) * min(1.0, r / 2)
        if b.rng.random() < 0.5:
            poly = b.circle(pu, pv, size / 2, 6, wobble=0.35)
        else:
            poly = b.rect(pu, pv, size, size * float(b.rng.uniform(0.4, 1.6)), float(b.rng.uniform(0, 180)))
        rgb = DEBRIS[int(b.rng.choice(palette_idx))]
        parts.append(Part(poly, b.jitter(rgb, 20), "grain", height_m=0.0))
    b.add("garbage_pile", blob, parts, LAYER_GROUND, "garbage_pile", growth_share=0.35)


def tree(b: _Block, region: tuple[float, float, float, float] | None = None) -> None:
    r = float(b.rng.uniform(1.8, 4.5))
    spot = b.place(2 * r, 2 * r, 0.0, -0.6 * r, region, tries=8)
    if spot is None:
        return
    green = b.pick(((50, 95, 45), (70, 115, 50), (40, 80, 42), (85, 120, 60)))
    poly = b.circle(spot[0], spot[1], r, 16, wobble=0.12)
    b.add(
        "tree",
        poly,
        [Part(poly, b.jitter(green, 12), "foliage", height_m=float(b.rng.uniform(5, 11)))],
        LAYER_TREE,
    )


def people(b: _Block) -> None:
    """2-8 people close together, standing or sitting: bright clothing clumped in a few metres, cast
    shadows, the colourful clutter a small garbage pile also is from above (real frames showed a group of
    people on a playing field boxed as waste)."""
    n = int(b.rng.integers(2, 9))
    r = 0.6 + 0.4 * math.sqrt(n)
    spot = b.place(2 * r, 2 * r, 0.0, 0.5, tries=8)
    if spot is None:
        return
    seated = bool(b.rng.random() < 0.4)
    parts = []
    for _ in range(n):
        t, d = float(b.rng.uniform(0, 2 * math.pi)), r * math.sqrt(float(b.rng.random())) * 0.8
        pu, pv = spot[0] + d * math.cos(t), spot[1] + d * math.sin(t)
        ang = float(b.rng.uniform(0, 180))
        # From above: shoulders, or shoulders and legs for someone sitting; the head a darker dot on them.
        body = b.rect(pu, pv, float(b.rng.uniform(0.4, 0.5)), 0.85 if seated else 0.28, ang)
        tall = float(b.rng.uniform(0.8, 1.0)) if seated else float(b.rng.uniform(1.55, 1.9))
        parts.append(Part(body, b.jitter(b.pick(CLOTHES), 14), "flat", height_m=tall))
        hair = bgr(b.pick(((40, 30, 25), (90, 65, 45), (170, 140, 110))))
        parts.append(Part(b.circle(pu, pv, 0.1, 6), hair, "flat"))
    b.add("people", b.circle(spot[0], spot[1], r, 12), parts, LAYER_GROUND)


def car(b: _Block, cu: float, cv: float, ang: float) -> None:
    rgb = b.pick(CARS)
    body = b.rect(cu, cv, 1.8, 4.5, ang)
    a = math.radians(ang)
    fu, fv = -math.sin(a) * 0.9, math.cos(a) * 0.9
    parts = [
        Part(body, b.jitter(rgb, 8), "flat", height_m=1.5),
        Part(b.rect(cu + fu, cv + fv, 1.5, 0.7, ang), bgr((35, 40, 48)), "flat"),
        Part(b.rect(cu - 1.6 * fu, cv - 1.6 * fv, 1.5, 0.45, ang), bgr((35, 40, 48)), "flat"),
    ]
    b.add("car", body, parts, LAYER_GROUND)


def tarp_truck(b: _Block, cu: float, cv: float, ang: float) -> None:
    """A truck whose load is under a blue (or other) tarp: blue and wrinkled, yet not a building."""
    ln = float(b.rng.uniform(6.0, 9.0))
    a = math.radians(ang)
    du, dv = -math.sin(a), math.cos(a)
    cab_rgb = b.pick(((230, 230, 228), (190, 40, 35), (45, 80, 160), (210, 170, 40)))
    cargo = b.rect(cu - du * 1.3, cv - dv * 1.3, 2.4, ln, ang)
    parts = [
        Part(
            b.rect(cu + du * (ln / 2), cv + dv * (ln / 2), 2.3, 2.2, ang),
            b.jitter(cab_rgb, 8),
            "flat",
            height_m=3.0,
        ),
        Part(cargo, b.jitter(b.pick(TARPS), 14), "tarp", b.angle(ang), 0.6, 3.2),
    ]
    b.add("tarp_truck", cargo, parts, LAYER_GROUND)


def sports_court(b: _Block) -> None:
    w, ln = (15.0, 28.0) if b.rng.random() < 0.6 else (18.0, 36.0)
    w, ln = w + 4, ln + 4
    ang = float(b.rng.choice([0.0, 90.0]))
    spot = b.place(w, ln, ang, 1.0)
    if spot is None:
        return
    cu, cv = spot
    surround = b.pick(((55, 120, 80), (150, 72, 60), (40, 95, 165)))
    court = b.pick(((40, 95, 165), (35, 110, 190), (60, 130, 200)))
    line = bgr((235, 235, 235))
    outer = b.rect(cu, cv, w, ln, ang)
    parts = [
        Part(outer, b.jitter(surround, 8), "grain"),
        Part(b.rect(cu, cv, w - 3.6, ln - 3.6, ang), line, "flat"),
        Part(b.rect(cu, cv, w - 4.0, ln - 4.0, ang), b.jitter(court, 8), "grain"),
        Part(b.rect(cu, cv, w - 4.0, 0.1, ang), line, "flat"),
    ]
    a = math.radians(ang)
    for sgn in (-1, 1):
        off = sgn * (ln / 2 - 2.0 - 2.9)
        pu, pv = cu - math.sin(a) * off, cv + math.cos(a) * off
        parts.append(Part(b.rect(pu, pv, 4.9, 0.1, ang), line, "flat"))
    b.add("sports_court", outer, parts, LAYER_GROUND)


def pool(b: _Block) -> None:
    w, ln = float(b.rng.uniform(8, 14)), float(b.rng.uniform(15, 26))
    ang = float(b.rng.choice([0.0, 90.0]))
    spot = b.place(w + 3, ln + 3, ang, 1.0)
    if spot is None:
        return
    outer = b.rect(spot[0], spot[1], w + 3, ln + 3, ang)
    water = b.pick(((70, 170, 205), (60, 150, 200), (90, 185, 210)))
    parts = [
        Part(outer, b.jitter((205, 200, 190), 10), "grain"),
        Part(b.rect(spot[0], spot[1], w, ln, ang), b.jitter(water, 10), "water", b.angle(ang), 1.5),
    ]
    b.add("pool", outer, parts, LAYER_GROUND)


def market_stalls(b: _Block, side: int) -> None:
    """A row of canopies along the block edge: colourful, blue among them, sized like sheds."""
    n = int(b.rng.integers(3, 9))
    size = float(b.rng.uniform(2.2, 3.2))
    along = side in (0, 1)
    span = n * (size + 0.3)
    if along:
        v = b.v0 + size / 2 + 0.3 if side == 0 else b.v1 - size / 2 - 0.3
        spot = b.place(span, size, 0.0, 0.2, (b.u0, v - size / 2 - 0.25, b.u1, v + size / 2 + 0.25))
    else:
        u = b.u0 + size / 2 + 0.3 if side == 2 else b.u1 - size / 2 - 0.3
        spot = b.place(size, span, 0.0, 0.2, (u - size / 2 - 0.25, b.v0, u + size / 2 + 0.25, b.v1))
    if spot is None:
        return
    parts = []
    for k in range(n):
        off = (k - (n - 1) / 2) * (size + 0.3)
        cu, cv = (spot[0] + off, spot[1]) if along else (spot[0], spot[1] + off)
        rgb = b.pick(CANOPIES)
        pattern = "stripes" if b.rng.random() < 0.3 else "tarp"
        parts.append(
            Part(b.rect(cu, cv, size, size, 0.0), b.jitter(rgb, 10), pattern, b.angle(0.0), 0.5, 2.4)
        )
    outline = (
        b.rect(spot[0], spot[1], span, size, 0.0) if along else b.rect(spot[0], spot[1], size, span, 0.0)
    )
    b.add("market_stalls", outline, parts, LAYER_GROUND)


def stacked_site(b: _Block) -> None:
    """Tidy stacks of materials in rows on a fenced site: orderly, unlike a garbage heap."""
    w, ln = float(b.rng.uniform(14, 30)), float(b.rng.uniform(14, 30))
    spot = b.place(w, ln, 0.0, 1.5)
    if spot is None:
        return
    cu, cv = spot
    fence = bgr((120, 122, 120))
    parts = [
        Part(b.rect(cu, cv, w, ln, 0.0), b.jitter((150, 130, 105), 10), "grain"),
        Part(b.rect(cu, cv - ln / 2, w, 0.15, 0.0), fence, "flat", height_m=2.0),
        Part(b.rect(cu, cv + ln / 2, w, 0.15, 0.0), fence, "flat", height_m=2.0),
        Part(b.rect(cu - w / 2, cv, 0.15, ln, 0.0), fence, "flat", height_m=2.0),
        Part(b.rect(cu + w / 2, cv, 0.15, ln, 0.0), fence, "flat", height_m=2.0),
    ]
    sw, sl = float(b.rng.uniform(1.2, 2.5)), float(b.rng.uniform(2.0, 5.0))
    nu, nv = max(1, int((w - 3) // (sw + 1.0))), max(1, int((ln - 3) // (sl + 1.2)))
    for a in range(nu):
        for c in range(nv):
            if b.rng.random() < 0.2:
                continue
            su = cu - (nu - 1) * (sw + 1.0) / 2 + a * (sw + 1.0)
            sv = cv - (nv - 1) * (sl + 1.2) / 2 + c * (sl + 1.2)
            rgb = STACKS[int(b.rng.integers(len(STACKS)))] if c == 0 else STACKS[int(b.rng.integers(4))]
            parts.append(
                Part(b.rect(su, sv, sw, sl, 0.0), b.jitter(rgb, 8), "stripes", b.angle(0.0), 0.2, 1.4)
            )
    b.add("stacked_materials", parts[0].poly, parts, LAYER_GROUND)


# --- roads and blocks ------------------------------------------------------------------------------------


def _roads(b: _Block) -> None:
    """The block owns the road on its u0 side and on its v0 side, and the crossing at their corner."""
    w = b.world
    ui, vj = w.roads_u[b.i], w.roads_v[b.j]
    wu, wv = w.widths_u[b.i], w.widths_v[b.j]
    u_next, v_next = w.roads_u[b.i + 1], w.roads_v[b.j + 1]
    asphalt = b.jitter((70, 70, 72), 6)
    # (centre u, centre v, width across, length along, runs along v?)
    segments = [
        (ui, (vj + v_next) / 2, wu, v_next - vj - wv, True),
        ((ui + u_next) / 2, vj, wv, u_next - ui - wu, False),
    ]
    for cu, cv, width, length, along_v in segments:
        if length < 20:
            continue

        def at(
            across: float, along: float, cu: float = cu, cv: float = cv, along_v: bool = along_v
        ) -> tuple[float, float]:
            return (cu + across, cv + along) if along_v else (cu + along, cv + across)

        def box(cu_: float, cv_: float, across: float, along: float, along_v: bool = along_v) -> np.ndarray:
            return b.rect(cu_, cv_, across, along) if along_v else b.rect(cu_, cv_, along, across)

        road = box(cu, cv, width, length)
        parts = [Part(box(cu, cv, width + 2 * SIDEWALK_M, length), b.jitter((175, 172, 165), 6), "grain")]
        parts.append(Part(road, asphalt, "grain"))
        if width >= 9.0:
            for k in range(int((length - 4) // 9.0)):
                mu, mv = at(0.0, -length / 2 + 4.5 + k * 9.0)
                parts.append(Part(box(mu, mv, 0.15, 3.0), bgr((225, 225, 215)), "flat"))
        b.add("road", road, parts, LAYER_ROAD)
        # Traffic: parked and moving cars, now and then a truck under a tarp.
        for _ in range(int(b.rng.poisson(length / 30.0))):
            lane = float(b.rng.choice([-1, 1])) * width / 4
            pu, pv = at(lane, float(b.rng.uniform(-length / 2 + 6, length / 2 - 6)))
            heading = (0.0 if along_v else 90.0) + (0.0 if lane > 0 else 180.0)
            if b.rng.random() < 0.12:
                tarp_truck(b, pu, pv, heading)
            else:
                car(b, pu, pv, heading)
    corner = b.rect(ui, vj, wu + 2 * SIDEWALK_M, wv + 2 * SIDEWALK_M)
    b.add("road", corner, [Part(corner, asphalt, "grain")], LAYER_ROAD)


def _cover(b: _Block, rgb: Rgb, amount: float = 10.0) -> None:
    poly = b.rect((b.u0 + b.u1) / 2, (b.v0 + b.v1) / 2, b.u1 - b.u0, b.v1 - b.v0)
    b.add("ground", poly, [Part(poly, b.jitter(rgb, amount), "grain")], LAYER_COVER)


def _walls_and_shacks(b: _Block, shacks: int) -> None:
    wall(b, b.u0, b.v0, b.u1, b.v0)
    wall(b, b.u0, b.v1, b.u1, b.v1)
    wall(b, b.u0, b.v0, b.u0, b.v1)
    wall(b, b.u1, b.v0, b.u1, b.v1)
    for _ in range(shacks):
        wall_shack(b, int(b.rng.integers(4)))


def _village(b: _Block) -> None:
    _cover(b, (150, 144, 132))
    _walls_and_shacks(b, int(b.rng.integers(0, 4)))
    for _ in range(int(b.rng.integers(0, 2))):
        market_stalls(b, int(b.rng.integers(4)))
    inner = 3.5  # a lane inside the wall keeps shacks and stalls room
    u = b.u0 + inner
    while u < b.u1 - inner - 6:
        w = min(float(b.rng.uniform(8, 15)), b.u1 - inner - u)
        v = b.v0 + inner
        while v < b.v1 - inner - 6:
            ln = min(float(b.rng.uniform(8, 16)), b.v1 - inner - v)
            if b.rng.random() < 0.9 and w > 5 and ln > 5:
                b.reserve(u, v, u + w, v + ln)
                building(b, u + w / 2, v + ln / 2, w, ln, 0.0, float(b.rng.uniform(10, 24)), 0.16)
            v += ln + float(b.rng.uniform(1.2, 3.0))
        u += w + float(b.rng.uniform(1.2, 3.0))
    for _ in range(int(b.rng.integers(0, 3))):
        garbage_pile(b, 0.8, 2.2)


def _industrial(b: _Block) -> None:
    _cover(b, (128, 126, 122))
    _walls_and_shacks(b, int(b.rng.integers(0, 3)))
    for _ in range(int(b.rng.integers(1, 4))):
        w, ln = float(b.rng.uniform(20, 45)), float(b.rng.uniform(25, 60))
        ang = float(b.rng.choice([0.0, 90.0]))
        spot = b.place(w, ln, ang, 4.0)
        if spot is None:
            continue
        # Big legal factory roofs are corrugated steel too, sometimes blue: scale is what sets them apart.
        rgb = b.pick(((200, 200, 198), (150, 152, 155), (125, 150, 130), (60, 110, 175)))
        roof = Part(
            b.rect(spot[0], spot[1], w, ln, ang), b.jitter(rgb, 10), "gable", b.angle(ang + 90), 0.35, 10.0
        )
        b.add("factory", roof.poly, [roof], LAYER_BUILDING)
    for _ in range(int(b.rng.integers(1, 5))):
        shed(b, big=True)
    if b.rng.random() < 0.5:
        stacked_site(b)
    for _ in range(int(b.rng.integers(0, 3))):
        spot = b.place(3.0, 10.0, 0.0, 1.0)
        if spot is not None:
            tarp_truck(b, spot[0], spot[1], float(b.rng.choice([0.0, 180.0])))
    for _ in range(int(b.rng.integers(0, 3))):
        garbage_pile(b, 1.5, 5.0)
    for _ in range(int(b.rng.integers(2, 9))):
        spot = b.place(2.0, 4.6, 0.0, 0.6)
        if spot is not None:
            car(b, spot[0], spot[1], float(b.rng.choice([0.0, 180.0])))


def _vacant(b: _Block) -> None:
    if b.rng.random() < 0.5:
        _cover(b, (140, 115, 85), 15)
    for _ in range(int(b.rng.integers(1, 6))):
        garbage_pile(b, 1.5, 7.0)
    for _ in range(int(b.rng.integers(0, 4))):
        shed(b)
    if b.rng.random() < 0.3:
        stacked_site(b)
    if b.rng.random() < 0.3:
        spot = b.place(3.0, 10.0, 0.0, 1.0)
        if spot is not None:
            tarp_truck(b, spot[0], spot[1], float(b.rng.uniform(0, 360)))
    for _ in range(int(b.rng.integers(5, 30))):
        tree(b)


def _park(b: _Block) -> None:
    _cover(b, (80, 125, 60), 8)
    cu, cv = (b.u0 + b.u1) / 2, (b.v0 + b.v1) / 2
    path = b.rect(cu, cv, 3.0, b.v1 - b.v0)
    b.add("path", path, [Part(path, b.jitter((185, 180, 170), 6), "grain")], LAYER_ROAD)
    b.reserve(cu - 2, b.v0, cu + 2, b.v1)
    for _ in range(int(b.rng.integers(1, 4))):
        sports_court(b)
    if b.rng.random() < 0.4:
        pool(b)
    if b.rng.random() < 0.3:
        market_stalls(b, int(b.rng.integers(4)))
    if b.rng.random() < 0.15:
        garbage_pile(b, 0.8, 2.0)
    for _ in range(int(b.rng.integers(20, 60))):
        tree(b)


def _residential(b: _Block) -> None:
    _cover(b, (95, 130, 75), 8)
    _walls_and_shacks(b, int(b.rng.integers(0, 4)))
    for _ in range(int(b.rng.integers(2, 7))):
        w, ln = float(b.rng.uniform(14, 22)), float(b.rng.uniform(28, 48))
        ang = float(b.rng.choice([0.0, 90.0]))
        spot = b.place(w, ln, ang, 6.0)
        if spot is not None:
            building(b, spot[0], spot[1], w, ln, ang, float(b.rng.uniform(30, 80)), 0.1)
    if b.rng.random() < 0.5:
        pool(b)
    if b.rng.random() < 0.4:
        sports_court(b)
    for _ in range(int(b.rng.integers(3, 12))):
        spot = b.place(2.0, 4.6, 0.0, 0.6)
        if spot is not None:
            car(b, spot[0], spot[1], float(b.rng.choice([0.0, 180.0])))
    for _ in range(int(b.rng.integers(10, 40))):
        tree(b)


_FILL = {
    "village": _village,
    "industrial": _industrial,
    "vacant": _vacant,
    "park": _park,
    "residential": _residential,
}


def block_kind(world: World, i: int, j: int) -> str:
    rng = np.random.default_rng([world.seed, 3, i + 100_000, j + 100_000])
    return str(rng.choice(BLOCK_KINDS, p=BLOCK_WEIGHTS))


def block_objects(world: World, i: int, j: int, detail: bool = True) -> tuple[WorldObject, ...]:
    """Everything in block (i, j) over all nights, roads on its u0/v0 sides included; deterministic.

    Without `detail` only the roads (and their traffic), which come first and so are the same objects: far
    ground seen a few metres per texel needs no more, and skipping the rest keeps wide oblique views cheap.
    """
    b = _Block(world, i, j)
    _roads(b)
    if detail and b.u1 - b.u0 > 10 and b.v1 - b.v0 > 10:
        kind = block_kind(world, i, j)
        _FILL[kind](b)
        b.rng = np.random.default_rng([world.seed, 7, i + 100_000, j + 100_000])
        for _ in range(int(b.rng.poisson(PEOPLE_GROUPS[kind]))):
            people(b)
    return tuple(b.objects)
