"""Batch benchmark: a 1,000-replication batch of the baseline scenario (10 years) on all cores.

Prints the wall time of the batch, runs per second, and the parallel efficiency against one
worker (measured on a smaller batch): efficiency = rate(N workers) / (N × rate(1 worker)).
Runs go through the same runner as `ladder compare` (results streamed to disk, resumable),
into a temporary folder that is deleted afterwards.

    .venv/bin/python benchmarks/bench_batch.py [--runs 1000] [--single-runs 100]
"""

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from sim.batch.design import expand
from sim.batch.runner import BatchOptions, run_batch
from sim.io.experiment_file import Arm

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "economies" / "baseline.toml"


def timed_batch(runs: int, workers: int, seed: int) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        specs = expand([Arm("baseline", BASELINE)], runs, seed)
        started = time.perf_counter()
        run_batch(specs, out, BatchOptions(workers=workers, progress=False))
        return time.perf_counter() - started
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--single-runs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}")
    one = timed_batch(args.single_runs, 1, seed=11)
    rate_one = args.single_runs / one
    print(f"1 worker:  {args.single_runs} runs in {one:6.1f} s  = {rate_one:5.1f} runs/s")
    many = timed_batch(args.runs, args.workers, seed=12)
    rate_many = args.runs / many
    print(f"{args.workers} workers: {args.runs} runs in {many:6.1f} s  = {rate_many:5.1f} runs/s")
    print(f"parallel efficiency: {rate_many / (args.workers * rate_one):.0%}")
    print(f"goal: {args.runs} runs in <= 30 s -> {'met' if many <= 30 else 'missed'}")


if __name__ == "__main__":
    main()
