"""Run every benchmark under benchmarks/ and print one JSON document keyed by benchmark name."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "bench_index.py",
    "bench_answer.py",
    "bench_embedders.py",
    "bench_scale.py",  # builds (or reuses) the cached 100, 10,000 and 100,000-item data dirs
    "bench_predictions.py",
    "bench_alerts.py",
    "bench_throughput.py",
    "bench_memory.py",  # after bench_scale: reuses its 100,000-item data dir
]


POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def postgres_args() -> list[str]:
    """Measure predictions on PostgreSQL too when the local server answers."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return ["--postgres", POSTGRES_URL]
    except OSError:
        return []


def main() -> int:
    results: dict[str, object] = {}
    for name in BENCHMARKS:
        script = HERE / name
        if not script.exists():
            continue
        extra = postgres_args() if name == "bench_predictions.py" else []
        started = time.perf_counter()
        run = subprocess.run([sys.executable, str(script), *extra], capture_output=True, text=True, check=False)
        print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        if run.returncode != 0:
            results[name.removesuffix(".py")] = {"error": run.stderr.strip().splitlines()[-1:] or ["failed"]}
            continue
        results[name.removesuffix(".py")] = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
