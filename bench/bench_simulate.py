"""Time `simulate_flight` for a 20-frame 4000x3000 flight (nadir mapping and -45 corridor).

Run: python bench/bench_simulate.py [OUT_DIR]; prints one JSON line per case. Results go in
bench/simulate_results.md by hand, with the machine they came from.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from pipeline.simulate import FlightSettings, simulate_flight


def main() -> None:
    base = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bench_sim_"))
    cases = {
        "nadir_mapping": FlightSettings(seed=1, frames=20),
        "corridor_-45": FlightSettings(seed=1, frames=20, pitch_deg=-45.0),
    }
    for name, settings in cases.items():
        out = base / name
        t0 = time.perf_counter()
        manifest = simulate_flight(out, settings)
        seconds = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(
            json.dumps(
                {
                    "case": name,
                    "frames": len(manifest["frames"]),
                    "size": f"{settings.size[0]}x{settings.size[1]}",
                    "seconds": round(seconds, 2),
                    "seconds_per_frame": round(seconds / len(manifest["frames"]), 3),
                    "output_mb": round(size / 1e6, 1),
                    "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
                    "cpus": os.cpu_count(),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
