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
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim.core.errors import InputError
from sim.core.model import LadderModel, check_quota_units
from sim.core.scenario import Scenario
from sim.io.files import load_rules, load_scenario, rule_sets_of, run_identity
from sim.io.firm_file import firms_of
from sim.io.machine import check_memory
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
    panel: bool = False  # also keep a firm-year panel (panel.parquet) for firm-level statistics
    package: str | None = None  # a policy package laid on ``scenario`` (then an economy file)

    def key(self, identity: str) -> str:
        """Run key: the run's identity, seed and tables kept — not labels or paths.

        ``identity`` hashes :func:`~sim.io.files.run_identity` (scenario, rule sets, version).
        """
        fields: dict = {"run": identity, "seed": self.seed}
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
            scenario = _load(*ident)
            try:
                rule_sets = rule_sets_of(scenario)
                check_quota_units(rule_sets.values(), dict(scenario.certification.quota_units))
                firms_of(
                    scenario, rule_sets[scenario.run.rules]
                )  # a bad firm file stops the batch before any run
            except InputError as exc:
                raise InputError(f"{spec.package or spec.scenario}: {exc}") from None
            identity = json.dumps(run_identity(scenario), sort_keys=True)
            hashes[ident] = hashlib.sha256(identity.encode()).hexdigest()
        out.append((spec.key(hashes[ident]), spec))
    return out


# ---------------------------------------------------------------------------- one run


def simulate(spec: RunSpec, key: str) -> RunResult:
    """Run one spec over its horizon (no Mesa agents: batches read the columns); its tables."""
    started = time.perf_counter()
    scenario = _load(spec.scenario, spec.overrides, spec.package)
    rule_sets = rule_sets_of(scenario)
    firms = firms_of(scenario, rule_sets[scenario.run.rules])
    model = LadderModel(scenario, rule_sets, rng=spec.seed, agents=False, firms=firms)
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
        **run_identity(scenario),
        "start_year": scenario.run.start_year,
        "years": scenario.run.years,
        "wall_seconds": round(time.perf_counter() - started, 4),
    }
    return RunResult(key, tables, meta)


def execute(spec: RunSpec, key: str, out_dir: str) -> str:
    """Simulate and store in one go (what a local worker process does); returns the key."""
    if not (Path(out_dir) / RUNS_DIR / key).exists():
        store(simulate(spec, key), Path(out_dir))
    return key


# ---------------------------------------------------------------------------- workers


def watch_parent(interval: float = 0.5) -> None:
    """Make this worker process exit when its parent dies, and leave Ctrl-C to the parent.

    A parent killed by SIGKILL cannot tell its workers; without this they would sleep forever,
    holding the parent's stdout open, so a caller reading the pipe would hang. The worker polls
    its parent id (it changes when the parent dies and the orphan is re-parented). Ctrl-C
    reaches the whole process group: the parent alone handles it, cancelling what is queued.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, initializer=watch_parent)


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
    pool = _new_pool(workers)
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
    _load.cache_clear()  # a batch reads its files when it starts: edits since are seen
    load_rules.cache_clear()
    pairs = keyed(specs)
    workers = 1 if options.backend == "dask" else options.workers or os.cpu_count() or 1
    for ident in {(s.scenario, s.overrides, s.package) for s in specs}:
        check_memory(_load(*ident), ident[2] or ident[0], agents=False, parallel=workers)
    done = finished_keys(out_dir, {k for k, _ in pairs})
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
    pool = pool or _new_pool(workers)
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
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"--scheduler {scheduler}: no Dask scheduler answers there ({exc})") from None
    else:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            # The scheduler serves HTTP even without a dashboard, on 8787 unless told otherwise:
            # a free port keeps a second cluster on the machine from printing a port warning.
            dashboard_address=":0",
            silence_logs=logging.ERROR,  # a shutdown is reported once, by the command line
        )
        client = Client(cluster)
        client.run(watch_parent)  # the cluster's workers are this process's children
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
