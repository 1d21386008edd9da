"""Batches of runs: common random numbers, one folder per finished run, resumable, parallel.

A batch is a list of :class:`RunSpec` (scenario file + overrides + seed). Each run is executed
in a worker process (or on a Dask cluster), which writes the run's results into
``<out>/runs/<key>/`` through a temporary folder renamed into place, so a folder exists only
for a run that finished. Re-running the same batch skips every key already on disk: an
interrupted batch loses no finished run and repeats none. The parent keeps only keys, so
memory does not grow with the number of runs (unlike Mesa's ``batch_run``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from sim import __version__
from sim.scenario import load, scenario_hash

RUNS = "runs"


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

    def key(self, resolved_hash: str) -> str:
        """Run key: resolved scenario (after overrides) and seed — not labels or paths."""
        text = json.dumps({"scenario": resolved_hash, "seed": self.seed})
        return hashlib.sha256(text.encode()).hexdigest()[:24]


@lru_cache(maxsize=64)
def _load(path: str, overrides: tuple[str, ...]):
    """Scenarios are frozen, so a worker parses each distinct one once."""
    return load(path, list(overrides))


def keyed(specs: Iterable[RunSpec]) -> list[tuple[str, RunSpec]]:
    """Attach keys, validating each distinct scenario + overrides once."""
    hashes: dict[tuple[str, tuple[str, ...]], str] = {}
    out = []
    for spec in specs:
        ident = (spec.scenario, spec.overrides)
        if ident not in hashes:
            hashes[ident] = scenario_hash(_load(spec.scenario, spec.overrides))
        out.append((spec.key(hashes[ident]), spec))
    return out


# ---------------------------------------------------------------------------- one run


def series_frame(model, ledger: pd.DataFrame) -> pd.DataFrame:
    """Year-level outcomes of a run: tier stocks and flows, spend by lever and level, R&D.

    ``ledger`` is the run's aggregated ledger (``Ledger.table``).
    """
    wide = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    out = wide.rename(columns=lambda c: c if "." not in c else _flow_name(c))
    if len(ledger):
        for column, key in (("lever", "spend.{}"), ("level", "spend_level.{}")):
            per = ledger.pivot_table(index="year", columns=column, values="amount_wan", aggfunc="sum")
            for name in per.columns:
                out[key.format(name)] = out["year"].map(per[name]).fillna(0.0)
    spend = [c for c in out.columns if c.startswith("spend.")]
    out["spend_total"] = out[spend].sum(axis=1) if spend else 0.0
    return out


def _flow_name(column: str) -> str:
    tier, flow = column.split(".")
    return f"{flow}.{tier}"


@dataclass
class RunResult:
    """The tables and metadata of one finished run, before they are stored."""

    key: str
    tables: dict[str, pd.DataFrame]
    meta: dict


def simulate(spec: RunSpec, key: str) -> RunResult:
    """Run one spec (no Mesa agents: batches read the columns) and collect its tables."""
    from sim.model import LadderModel

    started = time.perf_counter()
    scenario = _load(spec.scenario, spec.overrides)
    model = LadderModel(scenario, rng=spec.seed, agents=False)
    for _ in range(scenario.run.years):
        model.step()
    rows = model.policy.ledger.firm_rows()
    ledger = model.policy.ledger.table(rows)
    tables = {
        "series": series_frame(model, ledger),
        "ledger": ledger,
        "certified": _certified(model),
        "awards": _awards(rows),
    }
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


def store(result: RunResult, out_dir: Path) -> None:
    """Write a run's folder through a temporary name, so only finished runs have a folder."""
    final = out_dir / RUNS / result.key
    if final.exists():
        return
    tmp = out_dir / RUNS / f".tmp-{result.key}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, table in result.tables.items():
        table.to_parquet(tmp / f"{name}.parquet", index=False)
    (tmp / "meta.json").write_text(json.dumps(result.meta, ensure_ascii=False), encoding="utf-8")
    try:
        os.rename(tmp, final)
    except OSError:  # the same key was stored meanwhile
        shutil.rmtree(tmp, ignore_errors=True)


def execute(spec: RunSpec, key: str, out_dir: str) -> str:
    """Simulate and store in one go (what a local worker process does); returns the key."""
    if not (Path(out_dir) / RUNS / key).exists():
        store(simulate(spec, key), Path(out_dir))
    return key


def _certified(model) -> pd.DataFrame:
    """Firms first certified to each tier during the simulated years (for deadweight)."""
    cols = model.firms.all_firms()
    start = model.scenario.run.start_year
    parts = []
    for tier in model.rules.order:
        first = cols[f"first_{tier}"]
        ids = cols["firm_id"][first >= start]
        parts.append(pd.DataFrame({"tier": tier, "firm_id": ids}))
    return pd.concat(parts, ignore_index=True)


def _awards(rows: pd.DataFrame) -> pd.DataFrame:
    """Award money (both award levers) per firm and tier over the run."""
    rows = rows[rows["lever"].isin(["award", "key_little_giant_fund"])]
    out = rows.groupby(["firm_id", "tier"], as_index=False)["amount_wan"].sum()
    return out.astype({"firm_id": "int64", "amount_wan": "float64"})


# ---------------------------------------------------------------------------- batches


def finished_keys(out_dir: Path) -> set[str]:
    """Keys of runs already on disk (temporary folders of killed runs are removed)."""
    runs = out_dir / RUNS
    if not runs.exists():
        return set()
    for tmp in runs.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    return {p.name for p in runs.iterdir() if (p / "meta.json").is_file()}


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


def run_batch(
    specs: list[RunSpec],
    out_dir: Path,
    workers: int | None = None,
    backend: str = "local",
    scheduler: str | None = None,
    progress: bool = True,
) -> list[str]:
    """Execute every spec not already finished; returns all keys in spec order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = keyed(specs)
    done = finished_keys(out_dir)
    todo = [(k, s) for k, s in pairs if k not in done]
    todo = list({k: (k, s) for k, s in todo}.values())  # identical runs execute once
    bar = _progress(len(pairs), len(pairs) - len(todo), progress)
    try:
        if backend == "dask":
            _run_dask(todo, out_dir, scheduler, workers, bar)
        else:
            _run_local(todo, out_dir, workers or os.cpu_count() or 1, bar)
    finally:
        bar.close()
    return [k for k, _ in pairs]


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", disable=not enabled, smoothing=0.1, desc="runs")


def _run_local(todo, out_dir: Path, workers: int, bar) -> None:
    if workers == 1:
        for key, spec in todo:
            execute(spec, key, str(out_dir))
            bar.update()
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
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
