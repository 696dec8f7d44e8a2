"""Synthetic drone flights over a procedural world, with DJI-style metadata and ground truth.

`simulate_flight(out_dir, FlightSettings(...))` is the entry point; the submodules are small and pure:
world/scenery (what is on the ground), texture/render (what the camera sees), plans (where it flies),
labels (truth), video and pipeline.metadata.write (the files a DJI aircraft writes). Imports are lazy so
that importing the package costs nothing until a flight is simulated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.simulate.flight import FlightSettings, simulate_flight

__all__ = ["FlightSettings", "simulate_flight"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from pipeline.simulate import flight

        return getattr(flight, name)
    raise AttributeError(name)
