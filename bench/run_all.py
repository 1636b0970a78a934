"""Run every benchmark script bench/bench_*.py, one after another, each in its own process.

Each script is run as a fresh process so one benchmark's garbage, caches and imports never
disturb the next. Whatever bench_*.py files exist are run, including ones added later: today
the scalar MLP (whole training steps against micrograd), the deep chain, small ops, the RNN,
`nn.LSTM`, the hand-written LSTM cell (`bench_lstm_cell.py`, against torch eager) and graph
rendering. A summary table lists each script's wall time and exit status at the end.

Run: .venv/bin/python bench/run_all.py [--quick] [name-filter ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import console, environment  # noqa: E402
from rich.table import Table  # noqa: E402

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    filters = [a for a in argv if not a.startswith("-")]
    scripts = sorted(HERE.glob("bench_*.py"))
    if filters:
        scripts = [s for s in scripts if any(f in s.stem for f in filters)]
    env = dict(os.environ)
    # One BLAS thread for every script (see common.py), set before their numpy loads.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    console.print(f"[dim]{environment()}")
    summary = []
    start_all = time.perf_counter()
    for script in scripts:
        cmd = [sys.executable, str(script)] + (["--quick"] if quick else [])
        start = time.perf_counter()
        status = subprocess.run(cmd, env=env, cwd=HERE.parent).returncode
        summary.append((script.name, time.perf_counter() - start, status))
    table = Table(title="bench/run_all.py", title_justify="left")
    table.add_column("script")
    table.add_column("wall time", justify="right")
    table.add_column("status")
    for name, seconds, status in summary:
        table.add_row(name, f"{seconds:.1f} s", "ok" if status == 0 else f"FAILED ({status})")
    console.print(table)
    console.print(f"total {time.perf_counter() - start_all:.1f} s")
    return 0 if all(status == 0 for _, _, status in summary) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
