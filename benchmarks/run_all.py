"""Run every benchmark under benchmarks/ and print one JSON document keyed by benchmark name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_index.py", "bench_answer.py", "bench_embedders.py"]


def main() -> int:
    results: dict[str, object] = {}
    for name in BENCHMARKS:
        script = HERE / name
        if not script.exists():
            continue
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
        if run.returncode != 0:
            results[name] = {"error": run.stderr.strip().splitlines()[-1:] or ["failed"]}
            continue
        results[name.removesuffix(".py")] = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
