"""Benchmark of the ladder model at scale: set-up, the yearly step and peak memory.

For each population size (default 10k, 100k and 1M firms) the baseline scenario is built and
run for ``--years`` years, each run in a fresh subprocess so that its peak memory
(``ru_maxrss``) belongs to it alone. Three runs per size separate the parts:

* the model with its Mesa agents (``LadderModel(..., agents=True)``, the default);
* the same model without them (``agents=False``): the same seed draws the same numbers, so this
  is the vectorised part alone, i.e. everything except Mesa's own agent creation and removal
  for the firms that enter and exit. Its parts (dynamics, certification, exit, entrant
  synthesis, state update, data collection) are timed by wrapping, in the benchmark process
  only, the functions the model calls; nothing under ``sim/`` is changed;
* Mesa on its own: N plain ``mesa.Agent`` objects created in a fresh ``mesa.Model``, then as
  many removed and created, year by year, as the model churned.

Mesa's bookkeeping in the model is the difference between the first two runs (set-up and
step), which holds whatever loop the model wraps around Mesa's calls; it is compared with the
third run, with and without the garbage collector's pauses (which land wherever the collector
happens to run). Each size is run ``--repeat`` times, the three runs interleaved, and each part
is reported from its fastest repeat, as timings on a shared machine are noisy; peak memory is
the worst repeat. The goals of the scale issue are checked at the largest size.

Run with ``make bench`` or ``.venv/bin/python benchmarks/bench_run.py [--sizes ...]``; add
``--profile`` to print a cProfile of the yearly steps of the agent-free run at the largest size
(its first repeat). This is a benchmark, not a test: it asserts nothing and exits 0 unless a
run crashes.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
import timeit
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "economies" / "baseline.toml"
TAG = "BENCH-RESULT "  # prefix of the JSON line a child prints for its parent

# Goals of the scale issue, checked at the largest size.
GOAL_VECTORISED_RATE = 3e6  # firm-years per second per core
GOAL_BOOKKEEPING_RATIO = 1.0  # Mesa bookkeeping ÷ Mesa's own create/remove calls
GOAL_SETUP_RATIO = 1.5  # set-up ÷ Mesa creating N agents
GOAL_PEAK_MB = 1500.0  # 1.5 GB (10^9 bytes)
NOISE = 0.05  # timing noise tolerated before a ratio goal counts as missed

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

# Functions of sim.dynamics timed as "dynamics"; missing names are skipped.
DYNAMICS = (
    "roll_history",
    "grow_revenue",
    "rd_price",
    "spend_on_rd",
    "produce_ip",
    "adjust_staff",
    "evolve_finance",
    "specialise",
    "upgrade_capabilities",
)
PARTS = ("dynamics", "certification", "exit", "entry", "state", "collect")


# ---------------------------------------------------------------------------- timing
class Clock:
    """Wall time per label from wrapped functions, plus the garbage collector's pauses."""

    def __init__(self) -> None:
        self.t: dict[str, float] = defaultdict(float)
        self.n: dict[str, int] = defaultdict(int)
        self._active: set[str] = set()
        self._gc_start = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.t["gc"] += time.perf_counter() - self._gc_start
            self.n[f"gc{info['generation']}"] += 1

    def wrap(self, owner: Any, name: str, label: str) -> None:
        """Replace ``owner.name`` (if it exists) by a version that adds its time to ``label``.

        Nested calls under the same label (``append`` calling ``turnover``) count once.
        """
        inner = getattr(owner, name, None)
        if inner is None:
            return

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if label in self._active:
                return inner(*args, **kwargs)
            self._active.add(label)
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.t[label] += time.perf_counter() - t0
                self._active.discard(label)

        setattr(owner, name, timed)

    def snapshot(self) -> dict[str, float]:
        """Copy of the accumulated times and counts."""
        return {**self.t, **{f"#{k}": float(v) for k, v in self.n.items()}}


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    """Per-label change between two snapshots."""
    return {k: v - before.get(k, 0.0) for k, v in after.items()}


def peak_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def instrument() -> Clock:
    """Wrap the functions ``LadderModel`` calls so that each part is timed."""
    import mesa

    import sim.core.model
    from sim.core import dynamics
    from sim.core.firms import FirmState

    clock = Clock()
    for fn in DYNAMICS:
        clock.wrap(dynamics, fn, "dynamics")
    clock.wrap(dynamics, "exit_firms", "exit")
    clock.wrap(sim.core.model, "synthesise", "entry")  # the initial population during set-up
    clock.wrap(sim.core.model, "seed_initial_tiers", "tiers")
    clock.wrap(sim.core.model, "run_cycle", "certification")
    clock.wrap(FirmState, "turnover", "state")  # append() goes through turnover()
    clock.wrap(mesa.DataCollector, "collect", "collect")

    entrants = dynamics.entrants

    def counted_entrants(*args: Any, **kwargs: Any) -> int:
        n_new = entrants(*args, **kwargs)
        clock.n["entries"] += n_new
        return n_new

    dynamics.entrants = counted_entrants
    return clock


# ---------------------------------------------------------------------------- children
def run_model(n: int, years: int, seed: int, agents: bool, profile: bool) -> dict[str, Any]:
    """Build and run the baseline model with ``n`` firms, with or without Mesa agents."""
    import mesa
    import numpy as np

    from sim.core.model import LadderModel
    from sim.io.files import load_scenario as load
    from sim.io.files import rule_sets_of

    calibration = min(timeit.repeat(lambda: np.random.default_rng(seed).standard_normal(1_000_000), number=1))
    clock = instrument()
    scenario = load(SCENARIO, overrides=[f"population.firms={n}"])
    if scenario.certification.warmup_years:
        raise SystemExit("the benchmark assumes no warm-up years (they would run inside set-up)")

    t0 = time.perf_counter()
    model = LadderModel(scenario, rule_sets_of(scenario), rng=seed, agents=agents)
    setup_total = time.perf_counter() - t0
    code = code_version()
    s = clock.snapshot()
    setup = {
        "total": setup_total,
        "synthesis": s.get("entry", 0.0),
        "tiers": s.get("tiers", 0.0),
        "gc": s.get("gc", 0.0),
    }
    peak_after_setup = peak_mb()

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    years_out = []
    for _ in range(years):
        before, firms = clock.snapshot(), model.firms.n
        c0, t0 = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        model.step()
        if profiler is not None:
            profiler.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        d = delta(clock.snapshot(), before)
        entries = int(d.get("#entries", 0))
        years_out.append(
            {
                "firms": firms,
                "wall": wall,
                "cpu": cpu,
                "entries": entries,
                "exits": firms + entries - model.firms.n,
                "gc": d.get("gc", 0.0),
                "gc_full": int(d.get("#gc2", 0)),
                **{part: d.get(part, 0.0) for part in PARTS},
            }
        )
    if profiler is not None:
        import pstats

        for key in ("tottime", "cumulative"):
            print(f"\n--- cProfile of {years} yearly steps at {n:,} firms, no agents, by {key} ---")
            pstats.Stats(profiler, stream=sys.stdout).sort_stats(key).print_stats(30)
    return {
        "n": n,
        "agents": len(model.agents),
        "setup": setup,
        "years": years_out,
        "peak_after_setup_mb": peak_after_setup,
        "peak_mb": peak_mb(),
        "calibration": calibration,
        "code": code,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "mesa": mesa.__version__,
        },
    }


def run_reference(n: int, churn: list[list[int]], seed: int) -> dict[str, Any]:
    """Mesa alone: create ``n`` plain agents, then remove/create the churned counts."""
    import random

    import mesa

    clock = Clock()
    model = mesa.Model(rng=seed)

    def timed(label: str, fn: Any) -> Any:
        t0, g0 = time.perf_counter(), clock.t["gc"]
        out = fn()
        clock.t[label] += time.perf_counter() - t0
        clock.t[label + "_gc"] += clock.t["gc"] - g0
        return out

    agents = timed("create_n", lambda: [mesa.Agent(model) for _ in range(n)])
    pick = random.Random(seed)
    for exits, entries in churn:
        idx = set(pick.sample(range(len(agents)), exits))
        leaving = [a for i, a in enumerate(agents) if i in idx]
        agents = [a for i, a in enumerate(agents) if i not in idx]
        leaving.reverse()  # popped in id order; each agent is freed as it is removed

        def remove(leaving: list[Any] = leaving) -> None:
            while leaving:
                leaving.pop().remove()

        timed("remove", remove)
        agents.extend(timed("create", lambda k=entries: [mesa.Agent(model) for _ in range(k)]))
    return {**clock.t, "peak_mb": peak_mb()}


def child(args: list[str]) -> dict[str, Any]:
    """Run this script as a child process and return the JSON it reports."""
    env = dict(os.environ)
    for var in THREAD_VARS:  # the goals are per core: keep NumPy/BLAS to one thread
        env.setdefault(var, "1")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"benchmark child {args} failed with exit code {proc.returncode}")
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(TAG):
            result = json.loads(line[len(TAG) :])
        else:
            print(line)
    if result is None:
        raise SystemExit(f"benchmark child {args} reported nothing")
    return result


# ---------------------------------------------------------------------------- report
def step_total(run: dict[str, Any], key: str = "wall") -> float:
    """Sum of one per-year figure over the years of a run."""
    return sum(y[key] for y in run["years"])


def fastest(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One run built from the fastest set-up and the fastest steps among repeats."""
    return {
        **min(runs, key=step_total),
        "setup": min(runs, key=lambda r: r["setup"]["total"])["setup"],
        "peak_after_setup_mb": max(r["peak_after_setup_mb"] for r in runs),
        "peak_mb": max(r["peak_mb"] for r in runs),
        "calibration": min(r["calibration"] for r in runs),
    }


def fastest_ref(refs: list[dict[str, Any]]) -> dict[str, Any]:
    """The Mesa-alone figures from the fastest repeat of each part."""
    create_n = min(refs, key=lambda r: r["create_n"])
    churn = min(refs, key=lambda r: r["remove"] + r["create"])
    return {
        **churn,
        "create_n": create_n["create_n"],
        "create_n_gc": create_n["create_n_gc"],
        "peak_mb": max(r["peak_mb"] for r in refs),
    }


def summarise(eager: dict[str, Any], lazy: dict[str, Any], ref: dict[str, Any]) -> dict[str, float]:
    """The figures of one size: with agents, without them, and Mesa alone."""
    nan = float("nan")
    firm_years = step_total(lazy, "firms")
    entries, exits = step_total(eager, "entries"), step_total(eager, "exits")
    vectorised = step_total(lazy)
    parts = {part: step_total(lazy, part) for part in PARTS}
    step, gc_step = step_total(eager), step_total(eager, "gc")
    bookkeeping = step - vectorised
    book_nogc = (step - gc_step) - (vectorised - step_total(lazy, "gc"))
    ref_churn = ref["remove"] + ref["create"]
    ref_churn_nogc = ref_churn - ref["remove_gc"] - ref["create_gc"]
    se, sl = eager["setup"], lazy["setup"]
    return {
        "calibration_ms": 1e3 * min(eager["calibration"], lazy["calibration"]),
        "setup_synthesis": sl["synthesis"],
        "setup_tiers": sl["tiers"],
        "setup_rest": sl["total"] - sl["synthesis"] - sl["tiers"],
        "setup_lazy": sl["total"],
        "setup_agents": se["total"] - sl["total"],
        "setup_total": se["total"],
        "setup_gc": se["gc"],
        "ref_create_n": ref["create_n"],
        "ref_create_n_gc": ref["create_n_gc"],
        "setup_ratio": se["total"] / ref["create_n"],
        "setup_nogc_ratio": (se["total"] - se["gc"]) / (ref["create_n"] - ref["create_n_gc"]),
        "firm_years": firm_years,
        "step": step,
        "step_rate": firm_years / step,
        "cpu_per_wall": step_total(lazy, "cpu") / vectorised,
        "vectorised": vectorised,
        **{f"vec_{k}": v for k, v in parts.items()},
        "vec_other": vectorised - sum(parts.values()),
        "vectorised_rate": firm_years / vectorised,
        "vectorised_cpu_rate": firm_years / step_total(lazy, "cpu"),
        "ns_per_firm_year": 1e9 * vectorised / firm_years,
        "entries": entries,
        "exits": exits,
        "churn_share": (entries + exits) / firm_years,
        "bookkeeping": bookkeeping,
        "gc_step": gc_step,
        "gc_full": step_total(eager, "gc_full"),
        "ref_churn": ref_churn,
        "ref_churn_gc": ref["remove_gc"] + ref["create_gc"],
        "bookkeeping_ratio": bookkeeping / ref_churn if ref_churn else nan,
        "bookkeeping_nogc_ratio": book_nogc / ref_churn_nogc if ref_churn_nogc else nan,
        "us_churn": 1e6 * bookkeeping / (entries + exits) if entries + exits else nan,
        "ref_us_churn": 1e6 * ref_churn / (entries + exits) if entries + exits else nan,
        "ref_us_create": 1e6 * ref["create"] / entries if entries else nan,
        "ref_us_remove": 1e6 * ref["remove"] / exits if exits else nan,
        "peak_after_setup_mb": eager["peak_after_setup_mb"],
        "peak_mb": eager["peak_mb"],
        "lazy_peak_mb": lazy["peak_mb"],
        "ref_peak_mb": ref["peak_mb"],
    }


ROWS: list[tuple[str, str, str]] = [  # (label, key, format); no key: a heading
    ("Machine speed check: 1M normal draws, ms", "calibration_ms", ".1f"),
    ("Set-up, s", "", ""),
    ("  population synthesis", "setup_synthesis", ".3f"),
    ("  initial tier placement", "setup_tiers", ".3f"),
    ("  state, rules, data collector", "setup_rest", ".3f"),
    ("  total without agents", "setup_lazy", ".3f"),
    ("  Mesa agents (with - without)", "setup_agents", ".3f"),
    ("  total with agents", "setup_total", ".3f"),
    ("    of which GC pauses", "setup_gc", ".3f"),
    ("  Mesa alone: create N agents", "ref_create_n", ".3f"),
    ("    of which GC pauses", "ref_create_n_gc", ".3f"),
    ("  total / Mesa alone  [goal <= 1.5]", "setup_ratio", ".2f"),
    ("  total / Mesa alone, GC excluded", "setup_nogc_ratio", ".2f"),
    ("Yearly step, all years", "", ""),
    ("  firm-years", "firm_years", ",.0f"),
    ("  vectorised part (run without agents), s", "vectorised", ".3f"),
    ("    dynamics", "vec_dynamics", ".3f"),
    ("    certification (+ features)", "vec_certification", ".3f"),
    ("    exit hazard", "vec_exit", ".3f"),
    ("    entrant synthesis", "vec_entry", ".3f"),
    ("    state update (archive + append)", "vec_state", ".3f"),
    ("    data collection", "vec_collect", ".3f"),
    ("    other (levers, flows, glue)", "vec_other", ".3f"),
    ("  vectorised, ns per firm-year", "ns_per_firm_year", ".0f"),
    ("  vectorised, firm-years/s  [goal >= 3e6]", "vectorised_rate", ",.0f"),
    ("  CPU time / wall time", "cpu_per_wall", ".2f"),
    ("  vectorised, firm-years per CPU second", "vectorised_cpu_rate", ",.0f"),
    ("  whole step with agents, s", "step", ".3f"),
    ("  whole step with agents, firm-years/s", "step_rate", ",.0f"),
    ("Mesa bookkeeping, all years", "", ""),
    ("  firms entered", "entries", ",.0f"),
    ("  firms exited", "exits", ",.0f"),
    ("  churn (entries + exits) / firm-years", "churn_share", ".3f"),
    ("  bookkeeping (step with - without agents), s", "bookkeeping", ".3f"),
    ("  GC pauses in the step with agents, s", "gc_step", ".3f"),
    ("    full (gen-2) collections", "gc_full", ".0f"),
    ("  Mesa alone: same create + remove, s", "ref_churn", ".3f"),
    ("    of which GC pauses", "ref_churn_gc", ".3f"),
    ("  bookkeeping / Mesa alone", "bookkeeping_ratio", ".2f"),
    ("  bookkeeping / Mesa alone, GC excluded  [goal <= 1]", "bookkeeping_nogc_ratio", ".2f"),
    ("  us per churned firm: model / Mesa alone", "us_churn", ".2f"),
    ("", "ref_us_churn", ".2f"),
    ("  Mesa alone: us per create / per remove", "ref_us_create", ".2f"),
    ("", "ref_us_remove", ".2f"),
    ("Memory, MB (10^6 bytes)", "", ""),
    ("  peak RSS after set-up", "peak_after_setup_mb", ",.0f"),
    ("  peak RSS  [goal <= 1500]", "peak_mb", ",.0f"),
    ("  peak RSS without agents", "lazy_peak_mb", ",.0f"),
    ("  Mesa alone: peak RSS", "ref_peak_mb", ",.0f"),
]


def size_label(n: int) -> str:
    """10000 -> 10k, 1000000 -> 1M."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def print_table(sizes: list[int], figs: dict[int, dict[str, float]]) -> None:
    """Sizes as columns, figures as rows; a row with an empty label joins the one above."""
    width, cell = 52, 18
    print(f"\n{'':<{width}}" + "".join(f"{size_label(n):>{cell}}" for n in sizes))
    i = 0
    while i < len(ROWS):
        label, key, fmt = ROWS[i]
        keys = [key]
        while i + 1 < len(ROWS) and ROWS[i + 1][0] == "":
            keys.append(ROWS[i + 1][1])
            i += 1
        if not key:
            print(label)
        else:
            cells = [" / ".join(format(figs[n][k], fmt) for k in keys) for n in sizes]
            print(f"{label:<{width}}" + "".join(f"{c:>{cell}}" for c in cells))
        i += 1


def goals(n: int, f: dict[str, float]) -> list[tuple[bool, str]]:
    """The scale issue's goals at size ``n``: (met, description)."""
    return [
        (
            f["vectorised_rate"] >= GOAL_VECTORISED_RATE,
            f"vectorised step {f['vectorised_rate']:,.0f} firm-years/s per core (goal >= 3,000,000)",
        ),
        (
            f["bookkeeping_nogc_ratio"] <= GOAL_BOOKKEEPING_RATIO + NOISE,
            f"Mesa bookkeeping {f['bookkeeping_nogc_ratio']:.2f}x Mesa's own create/remove "
            f"calls, GC pauses excluded ({f['bookkeeping_ratio']:.2f}x with them; goal <= 1, "
            f"{NOISE:.0%} timing noise allowed)",
        ),
        (
            f["setup_ratio"] <= GOAL_SETUP_RATIO,
            f"set-up {f['setup_ratio']:.2f}x Mesa creating {n:,} agents (goal <= 1.5)",
        ),
        (f["peak_mb"] <= GOAL_PEAK_MB, f"peak memory {f['peak_mb']:,.0f} MB (goal <= 1,500 MB)"),
    ]


def code_version() -> dict[str, str]:
    """Git commit and a hash of the model's loaded sources and rule files (child process)."""
    import hashlib

    files = {Path(m.__file__) for k, m in sys.modules.items() if k.split(".")[0] == "sim"}
    files |= {SCENARIO, *ROOT.glob("scenarios/rules/*.toml")}
    digest = hashlib.sha1()
    for path in sorted(f for f in files if f.is_file()):
        digest.update(path.name.encode() + path.read_bytes())
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {"commit": head or "?", "sources": digest.hexdigest()[:10]}


def machine() -> str:
    """One line describing the machine the figures come from."""
    cpu, mem = "unknown CPU", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 1024**2:.0f} GiB RAM"
                break
    except OSError:
        pass
    return f"{os.cpu_count()} x {cpu}{mem}, {platform.system()} {platform.release()}"


# ---------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated firm counts (default: %(default)s)",
    )
    parser.add_argument("--years", type=int, default=10, help="years to simulate (default: 10)")
    parser.add_argument("--seed", type=int, default=1, help="model seed (default: 1)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per size; each part is reported from its fastest run (default: 3)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also print a cProfile of the agent-free yearly steps at the largest size",
    )
    parser.add_argument("--single", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--no-agents", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--churn", default="[]", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.single is not None:  # child: one model run
        result = run_model(args.single, args.years, args.seed, not args.no_agents, args.profile)
        print(TAG + json.dumps(result))
        return
    if args.reference is not None:  # child: Mesa on its own
        print(TAG + json.dumps(run_reference(args.reference, json.loads(args.churn), args.seed)))
        return

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    print(
        f"sme-ladder benchmark: {SCENARIO.relative_to(ROOT)}, {args.years} years, "
        f"seed {args.seed}, {date.today().isoformat()}"
    )
    print(f"machine: {machine()}")
    load_before = os.getloadavg()[0]
    figs: dict[int, dict[str, float]] = {}
    versions: dict[str, str] = {}
    runs: list[dict[str, Any]] = []
    for n in sizes:
        eager, lazy, refs = [], [], []
        for rep in range(args.repeat):
            print(f"running {n:,} firms, repeat {rep + 1} of {args.repeat} ...", flush=True)
            flags = ["--single", str(n), "--years", str(args.years), "--seed", str(args.seed)]
            eager.append(child(flags))
            profile = ["--profile"] if args.profile and n == max(sizes) and rep == 0 else []
            lazy.append(child([*flags, "--no-agents", *profile]))
            churn = json.dumps([[y["exits"], y["entries"]] for y in eager[-1]["years"]])
            refs.append(child(["--reference", str(n), "--seed", str(args.seed), "--churn", churn]))
        figs[n] = summarise(fastest(eager), fastest(lazy), fastest_ref(refs))
        runs += eager + lazy
        versions = eager[0]["versions"]
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    commits = sorted({r["code"]["commit"] for r in runs})
    sources = sorted({r["code"]["sources"] for r in runs})
    print(f"code: commit {', '.join(commits)}; model sources {', '.join(sources)}")
    print(f"load average (1 min) before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f}")
    if len(sources) > 1:
        print("WARNING: the model's sources changed while the benchmark ran; figures are mixed")
    print_table(sizes, figs)

    n = max(sizes)
    print(f"\nGoals at {n:,} firms:")
    for met, text in goals(n, figs[n]):
        print(f"  [{'met' if met else 'MISSED'}] {text}")
    print(
        f"\n(wall-clock timings; each part is the best of {args.repeat} repeat(s) of the runs "
        "with agents, without agents and of Mesa alone, interleaved; memory is the worst repeat)"
    )
    if args.profile and args.repeat == 1:
        print(f"(the {size_label(n)} step without agents is inflated by cProfile)")


if __name__ == "__main__":
    main()
