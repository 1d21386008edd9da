"""Whole-command benchmark: what a planner waits for at the shell, and what a run holds in memory.

Figures (each command run in a fresh process, from the shell's point of view):

* ``--help``: wall time of ``ladder --help`` (the parser and what it imports);
* ``city``: wall time of ``ladder run scenarios/yuyao-2024.toml`` (the calibrated city economy,
  8 warm-up + 10 simulated years, both charts drawn), and what its process imported;
* ``memory``: peak resident memory of ``ladder run`` of the baseline economy at 1 M firms, 10
  years, eager Mesa agents, writing every table (``ru_maxrss`` of the child);
* ``compare``: ``ladder compare`` of the Yuyao package on the calibrated Yuyao economy (each
  replication is two runs: the package and its no-policy counterfactual), on one worker and on
  all cores, as a planner types it (parent start-up, reading the runs back and the charts
  included): runs per second, parallel efficiency and the time 1,000 replications would take;
* ``toy``: the whole ``ladder run`` with eager agents against a per-agent Mesa toy and the same
  toy in NumPy, all three in firm-years per second at the same size. The model's rate is taken
  from outside, as a planner sees it: (wall of an 11-year run − wall of a 1-year run) ÷ the
  firm-years of years 2–11, so start-up, set-up and writing cancel out.

Commands are interleaved repeat by repeat and the median is printed, with min–max, as the
machine is shared and noisy. This is a benchmark, not a test: it asserts nothing.

    .venv/bin/python benchmarks/bench_cli.py [--only help,city,compare,memory,toy] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LADDER = str(Path(sys.executable).parent / "ladder")
CITY = "scenarios/yuyao-2024.toml"
BASELINE = "scenarios/economies/baseline.toml"
TOY_ATTRIBUTES = 4  # revenue, age, rd, alive: the per-agent toy of the issue
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, (peak if peak > before else float("nan")) * 1024 / 1e6


def summary(values: list[float], fmt: str = ".3f") -> str:
    """Median (min–max)."""
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"


def imported(cmd_args: list[str]) -> list[str]:
    """Heavy top-level packages a ``ladder`` command imports (run in-process in a child)."""
    probe = (
        "import sys; from sim.app.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = ('scipy.stats', 'matplotlib', 'SALib', 'dask', 'numba', 'mesa', 'pandas', 'scipy')\n"
        "print('IMPORTED ' + ' '.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *cmd_args], cwd=ROOT, env=ENV, capture_output=True, text=True
    ).stdout
    line = [x for x in out.splitlines() if x.startswith("IMPORTED")]
    return line[0].split()[1:] if line else ["?"]


def bench_startup(repeat: int, tmp: Path) -> None:
    """``ladder --help`` and ``ladder run`` of the city economy, interleaved."""
    helps, runs, floors, bare = [], [], [], []
    cmd_run = [LADDER, "run", CITY, "--out", str(tmp / "city")]
    # What bounds a run from below: the interpreter, and the libraries a run cannot do without
    # (Mesa loads pandas and SciPy's spatial module; the firm-keyed draws are numba kernels).
    floor = [sys.executable, "-c", "import mesa, numba, pandas, pyarrow.parquet, pydantic, matplotlib.pyplot"]
    timed(cmd_run)  # warm-up: numba's on-disk cache, the OS file cache
    for _ in range(repeat):
        helps.append(timed([LADDER, "--help"])[0])
        runs.append(timed(cmd_run)[0])
        floors.append(timed(floor)[0])
        bare.append(timed([sys.executable, "-c", "pass"])[0])
    print(f"ladder --help, wall s               {summary(helps)}   [goal <= 0.5]")
    print(f"ladder run {CITY}, wall s  {summary(runs)}   [goal <= 1.0]")
    print(f"  python -c pass, wall s             {summary(bare)}")
    print(f"  importing Mesa, numba, pandas, pyarrow, pydantic, pyplot, wall s  {summary(floors)}")
    print(f"  --help imports: {' '.join(imported(['--help'])) or 'none of the heavy packages'}")
    print(f"  run imports:    {' '.join(imported(['run', CITY, '--out', str(tmp / 'probe')]))}")


def bench_memory(firms: int, tmp: Path) -> None:
    """Peak RSS of ``ladder run`` at ``firms`` firms, 10 years, eager agents, all tables written."""
    cmd = [LADDER, "run", BASELINE, "--set", f"population.firms={firms}", "--out", str(tmp / "big")]
    wall, peak = timed(cmd)
    print(f"ladder run at {firms:,} firms, 10 years: peak RSS {peak:,.0f} MB in {wall:.1f} s  [goal <= 1500]")


def bench_compare(reps_one: int, reps_all: int, tmp: Path) -> None:
    """``ladder compare`` on one worker and on all cores: runs/s and parallel efficiency."""
    workers = os.cpu_count() or 1
    base = [
        LADDER,
        "compare",
        "scenarios/packages/yuyao-2024.toml",
        "--economy",
        "scenarios/economies/yuyao.toml",
    ]
    rates = {}
    for w, reps in ((1, reps_one), (workers, reps_all)):
        out = tmp / f"compare-{w}"
        wall, _ = timed([*base, "--reps", str(reps), "--workers", str(w), "--quiet", "--out", str(out)])
        shutil.rmtree(out, ignore_errors=True)
        rates[w] = 2 * reps / wall
        print(
            f"ladder compare, {reps} replications ({2 * reps} runs), {w} worker(s): {wall:.1f} s = {rates[w]:.2f} runs/s"
        )
    eff = rates[workers] / (workers * rates[1])
    print(f"  parallel efficiency {eff:.0%}  [goal >= 85 %]")
    print(
        f"  1,000 replications (2,000 runs) on {workers} cores would take {2000 / rates[workers]:.0f} s  [goal <= 20]"
    )
    print(f"  runs per hour per core: {3600 * rates[1]:,.0f} (one worker)")


def firm_years(folder: Path, years: int) -> int:
    """Firm-years stepped in simulated years 2..years: live firms at the start of each (metrics row k
    is the end of year k, row 0 the start of the first)."""
    import pandas as pd

    metrics = pd.read_parquet(folder / "metrics.parquet")
    return int(metrics["firms_alive"].iloc[1:years].sum())


def bench_toy(firms: int, repeat: int, tmp: Path) -> None:
    """The whole model (from outside) against the per-agent Mesa toy and the NumPy toy."""
    base = [LADDER, "run", BASELINE, "--set", f"population.firms={firms}"]
    long_, short = [], []
    for _ in range(repeat):
        long_.append(timed([*base, "--years", "11", "--out", str(tmp / "y11")])[0])
        short.append(timed([*base, "--years", "1", "--out", str(tmp / "y1")])[0])
    fy = firm_years(tmp / "y11", 11)
    model_rate = fy / (statistics.median(long_) - statistics.median(short))
    mesa_rate, numpy_rate = [], []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, __file__, "--toy-child", str(firms)],
            cwd=ROOT,
            env=ENV,
            capture_output=True,
            text=True,
        ).stdout
        figs = json.loads(out.strip().splitlines()[-1])
        mesa_rate.append(figs["mesa"])
        numpy_rate.append(figs["numpy"])
    m, t, v = model_rate, statistics.median(mesa_rate), statistics.median(numpy_rate)
    print(f"at {firms:,} firms, firm-years/s (median of {repeat}):")
    print(f"  ladder run with eager agents (11 y - 1 y)  {m:>12,.0f}")
    print(f"  per-agent Mesa toy ({TOY_ATTRIBUTES} attributes)         {t:>12,.0f}")
    print(f"  the same toy in NumPy                      {v:>12,.0f}")
    print(f"  model / Mesa toy {m / t:.2f}  [goal >= 3];  NumPy toy / model {v / m:.1f}")


def toy_child(firms: int, years: int = 10) -> None:
    """Both toys in one process: revenue random walk, ageing, R&D share, exit by a hazard."""
    import mesa
    import numpy as np

    class ToyFirm(mesa.Agent):
        def __init__(self, model: mesa.Model, revenue: float) -> None:
            super().__init__(model)
            self.revenue, self.age, self.rd, self.alive = revenue, 0, 0.0, True

        def step(self) -> None:
            rng = self.model.rng
            self.revenue *= float(np.exp(0.02 + 0.2 * rng.standard_normal()))
            self.rd = 0.03 * self.revenue
            self.age += 1
            self.alive = rng.random() > 0.03

    class Toy(mesa.Model):
        def __init__(self, n: int) -> None:
            super().__init__(rng=1)
            for r in self.rng.lognormal(6.4, 1.4, n):
                ToyFirm(self, float(r))

        def step(self) -> None:
            self.agents.do("step")

    toy = Toy(firms)
    t0, fy = time.perf_counter(), 0
    for _ in range(years):
        fy += len(toy.agents)
        toy.step()
    mesa_rate = fy / (time.perf_counter() - t0)

    rng = np.random.default_rng(1)
    revenue, age = rng.lognormal(6.4, 1.4, firms), np.zeros(firms, np.int32)
    rd, alive = np.zeros(firms), np.ones(firms, bool)
    t0 = time.perf_counter()
    for _ in range(years):
        revenue *= np.exp(0.02 + 0.2 * rng.standard_normal(firms))
        np.multiply(revenue, 0.03, out=rd)
        age += 1
        alive = rng.random(firms) > 0.03
    numpy_rate = years * firms / (time.perf_counter() - t0)
    assert alive.size == firms
    print(json.dumps({"mesa": mesa_rate, "numpy": numpy_rate}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="help,city,compare,memory,toy", help="parts to run (default: all)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each timed command (default 5)")
    parser.add_argument("--memory-firms", type=int, default=1_000_000)
    parser.add_argument(
        "--compare-reps", type=int, default=100, help="replications on all cores (1/4 on one)"
    )
    parser.add_argument("--toy-firms", type=int, default=200_000)
    parser.add_argument("--toy-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.toy_child:
        toy_child(args.toy_child)
        return
    parts = set(args.only.split(","))
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    print(f"commit {head.stdout.strip()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        if {"help", "city"} & parts:
            bench_startup(args.repeat, tmp)
        if "compare" in parts:
            bench_compare(args.compare_reps // 4, args.compare_reps, tmp)
        if "toy" in parts:
            bench_toy(args.toy_firms, max(1, args.repeat // 2), tmp)
        if "memory" in parts:
            bench_memory(args.memory_firms, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
