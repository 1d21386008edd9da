"""The batch engine: many runs on common random numbers, resumable, parallel.

A batch is a list of :class:`RunSpec` (scenario file + overrides + seed). Each run is executed
in a worker process (or on a Dask cluster), and its tables are stored in ``<out>/runs/<key>/``
(:mod:`sim.io.run_store`), a folder that exists only for a run that finished. Re-running the
same batch skips every key already on disk: an interrupted batch loses no finished run and
repeats none. The parent keeps only keys, so memory does not grow with the number of runs
(unlike Mesa's ``batch_run``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.core.model import LadderModel
from sim.core.scenario import Scenario
from sim.io.files import load_scenario, rule_sets_of, scenario_hash
from sim.io.run_store import RUNS_DIR, RunResult, finished_keys, panel_rows, run_tables, store


def replication_seed(base_seed: int, replication: int) -> int:
    """Seed of replication ``i``: the same for every scenario (common random numbers)."""
    seq = np.random.SeedSequence(base_seed, spawn_key=(replication,))
    return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one run."""

    label: str
    scenario: str
    overrides: tuple[str, ...]
    replication: int
    seed: int
    params: tuple[tuple[str, float], ...] = ()
    panel: bool = False
    package: str | None = (
        None  # a policy package laid on ``scenario`` (then an economy file)  # also keep a firm-year panel (panel.parquet) for firm-level statistics
    )

    def key(self, resolved_hash: str) -> str:
        """Run key: resolved scenario (after overrides), seed and tables kept — not labels or paths."""
        fields: dict = {"scenario": resolved_hash, "seed": self.seed}
        if self.panel:
            fields["panel"] = True
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:24]


@lru_cache(maxsize=64)
def _load(path: str, overrides: tuple[str, ...], package: str | None) -> Scenario:
    """Scenarios are frozen, so a worker parses each distinct one once."""
    return load_scenario(path, list(overrides), package)


def keyed(specs: Iterable[RunSpec]) -> list[tuple[str, RunSpec]]:
    """Attach keys, validating each distinct scenario + overrides once."""
    hashes: dict[tuple[str, tuple[str, ...], str | None], str] = {}
    out = []
    for spec in specs:
        ident = (spec.scenario, spec.overrides, spec.package)
        if ident not in hashes:
            hashes[ident] = scenario_hash(_load(*ident))
        out.append((spec.key(hashes[ident]), spec))
    return out


# ---------------------------------------------------------------------------- one run


def simulate(spec: RunSpec, key: str) -> RunResult:
    """Run one spec over its horizon (no Mesa agents: batches read the columns); its tables."""
    started = time.perf_counter()
    scenario = _load(spec.scenario, spec.overrides, spec.package)
    model = LadderModel(scenario, rule_sets_of(scenario), rng=spec.seed, agents=False)
    if spec.panel:
        years = []
        while model.running:  # Mesa's run_model, observing the firms after each year
            model.step()
            years.append(panel_rows(model))
        tables = {**run_tables(model), "panel": pd.concat(years, ignore_index=True)}
    else:
        model.run_model()
        tables = run_tables(model)
    meta = {
        **asdict(spec),
        "key": key,
        "resolved_sha256": scenario_hash(scenario),
        "start_year": scenario.run.start_year,
        "years": scenario.run.years,
        "package_version": __version__,
        "wall_seconds": round(time.perf_counter() - started, 4),
    }
    return RunResult(key, tables, meta)


def execute(spec: RunSpec, key: str, out_dir: str) -> str:
    """Simulate and store in one go (what a local worker process does); returns the key."""
    if not (Path(out_dir) / RUNS_DIR / key).exists():
        store(simulate(spec, key), Path(out_dir))
    return key


# ---------------------------------------------------------------------------- batches


def _bounded(submit: Callable, items: list, window: int, wait_one) -> Iterator:
    """Keep at most ``window`` tasks in flight; yield each task as it completes."""
    pending = set()
    queue = iter(items)
    for item in queue:
        pending.add(submit(item))
        if len(pending) >= window:
            done, pending = wait_one(pending)
            yield from done
    while pending:
        done, pending = wait_one(pending)
        yield from done


@dataclass(frozen=True)
class BatchOptions:
    """Where and how a batch runs: local processes (default: all cores) or a Dask cluster.

    ``pool`` is a live pool of local workers shared by many batches (see :func:`pooled`).
    """

    workers: int | None = None
    backend: str = "local"
    scheduler: str | None = None
    progress: bool = True
    pool: Executor | None = None


@contextmanager
def pooled(options: BatchOptions) -> Iterator[BatchOptions]:
    """Options whose local batches share one worker pool (many small batches, e.g. a calibration)."""
    workers = options.workers or os.cpu_count() or 1
    if options.backend != "local" or options.pool is not None or workers == 1:
        yield options
        return
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        yield replace(options, pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run_batch(specs: list[RunSpec], out_dir: Path, options: BatchOptions = BatchOptions()) -> list[str]:
    """Execute every spec not already finished; returns all keys in spec order.

    The one way many runs are executed: compare, sweep, sensitivity, calibration and the
    validation report all call it.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = keyed(specs)
    done = finished_keys(out_dir)
    todo = [(k, s) for k, s in pairs if k not in done]
    todo = list({k: (k, s) for k, s in todo}.values())  # identical runs execute once
    bar = _progress(len(pairs), len(pairs) - len(todo), options.progress)
    try:
        if options.backend == "dask":
            _run_dask(todo, out_dir, options.scheduler, options.workers, bar)
        else:
            _run_local(todo, out_dir, options.workers or os.cpu_count() or 1, bar, options.pool)
    finally:
        bar.close()
    return [k for k, _ in pairs]


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", disable=not enabled, smoothing=0.1, desc="runs")


def _run_local(todo, out_dir: Path, workers: int, bar, pool: Executor | None = None) -> None:
    if workers == 1 and pool is None:
        for key, spec in todo:
            execute(spec, key, str(out_dir))
            bar.update()
        return
    own = pool is None
    pool = pool or ProcessPoolExecutor(max_workers=workers)
    try:
        tasks = _bounded(
            lambda ks: pool.submit(execute, ks[1], ks[0], str(out_dir)),
            todo,
            4 * workers,
            lambda pending: wait(pending, return_when=FIRST_COMPLETED),
        )
        for future in tasks:
            future.result()
            bar.update()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        if own:
            pool.shutdown(wait=True)


def _run_dask(todo, out_dir: Path, scheduler: str | None, workers: int | None, bar) -> None:
    from dask.distributed import Client, LocalCluster
    from dask.distributed import wait as dask_wait

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
    try:
        # Workers return results and the client stores them: no shared file system needed.
        tasks = _bounded(
            lambda ks: client.submit(simulate, ks[1], ks[0], key=f"run-{ks[0]}", pure=False),
            todo,
            8 * max(1, len(client.scheduler_info().get("workers", {})) or 1),
            lambda pending: _dask_wait_one(dask_wait, pending),
        )
        for future in tasks:
            store(future.result(), out_dir)
            future.release()
            bar.update()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _dask_wait_one(dask_wait, pending):
    result = dask_wait(list(pending), return_when="FIRST_COMPLETED")
    return set(result.done), set(result.not_done)
