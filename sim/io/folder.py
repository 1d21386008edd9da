"""A results folder that appears whole or not at all, written by one process at a time.

The protocol, the same for every writer (``run``, ``compare``, ``sweep``, ``sensitivity``,
``calibrate``, ``plot``):

1. **Claim** the folder before any work: take an exclusive lock on ``.lock`` (a second writer
   is told so and stops) and refuse a non-empty folder that is not a results folder, or one
   that cannot be written — before the simulation, not after it.
2. **Begin**, once the results exist in memory (or in the journals): delete the manifest
   *first*, then every other file of the earlier run, except the journals a writer resumes from
   (``runs/``, a calibration's history); then write the new files in place.
3. **Commit**: write ``manifest.json`` last, listing every file with its SHA-256.

``plot`` only redraws the charts of a complete folder: it keeps the data files and the manifest,
and rewrites the manifest with the new charts' checksums at the end.

A folder without a valid manifest is therefore incomplete, and every reader refuses it
(:func:`verified`); a folder with one holds exactly the files of one run. Killing a writer at any
point leaves either the earlier run (before step 2), an incomplete folder that readers refuse
(steps 2–3) or the new run (after step 3), never a mix.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from sim.core.errors import InputError

MANIFEST = "manifest.json"
LOCK = ".lock"
CHARTS = (".png", ".svg")  # drawn from the data files; ``plot`` may redraw them


def checksum(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksums(folder: Path, names: list[str]) -> dict[str, str]:
    """Name → SHA-256 of files of ``folder``."""
    return {name: checksum(folder / name) for name in sorted(names)}


def mismatched(folder: Path, files: dict[str, str]) -> list[str]:
    """Files of a checksum listing that are missing or whose bytes differ."""
    return [
        name
        for name, digest in files.items()
        if not (folder / name).is_file() or checksum(folder / name) != digest
    ]


class ResultsFolder:
    """One writer's hold on a results folder, from claim to commit (a context manager).

    ``keep`` names the entries a writer resumes from and so keeps across runs; ``amend`` keeps
    everything (``plot`` redrawing the charts of a finished folder).
    """

    def __init__(self, path: Path, keep: tuple[str, ...] = (), amend: bool = False) -> None:
        self.path = Path(path)
        self.keep = keep
        self.amend = amend
        self._lock: int | None = None
        self._earlier: dict[str, Any] = {}
        self._begun = False

    def __enter__(self) -> ResultsFolder:
        try:
            self._claim()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    def _claim(self) -> None:
        path = self.path
        if self.amend:
            verified(path, charts=False)  # never create or lock a folder that holds no results
        try:
            path.mkdir(parents=True, exist_ok=True)
            if not self._is_results_folder():
                raise InputError(
                    f"{path}: output folder is not empty and holds no ladder results; choose another --out"
                )
            self._lock = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(f"{path}: cannot write the output folder ({exc.strerror})") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            self._lock = None
            raise InputError(
                f"{path}: another ladder process is writing this folder; wait for it or choose another --out"
            ) from None
        if self.amend:  # only charts are redrawn: the data files and their manifest stay valid
            self._earlier = verified(path, charts=False)

    def begin(self) -> None:
        """Remove the earlier run (manifest first), keeping the journals; then write in place."""
        self._begun = True
        if self.amend:
            return
        (self.path / MANIFEST).unlink(missing_ok=True)  # from here on the folder reads as incomplete
        for entry in self.path.iterdir():
            if entry.name == LOCK or entry.name in self.keep:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def _is_results_folder(self) -> bool:
        """Empty, or written by ladder before (it has a manifest, a lock or a runs journal)."""
        entries = {p.name for p in self.path.iterdir()}
        return not entries or bool(entries & {MANIFEST, LOCK, *self.keep})

    def commit(self, info: dict[str, Any]) -> Path:
        """Write the manifest, listing every file now in the folder with its checksum; last."""
        if not self._begun:
            raise RuntimeError("commit() before begin(): the earlier run's files would be listed")
        files = [
            p.name
            for p in self.path.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name != MANIFEST
        ]
        text = json.dumps(
            {**self._earlier, **info, "files": checksums(self.path, files)}, indent=2, ensure_ascii=False
        )
        target = self.path / MANIFEST
        tmp = self.path / f".{MANIFEST}.tmp"
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, target)
        return target


def verified(folder: Path, charts: bool = True) -> dict[str, Any]:
    """The manifest of a complete results folder; an incomplete or altered one is refused.

    ``charts=False`` leaves the charts unchecked (``plot`` is about to redraw them).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such results folder")
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise InputError(
            f"{folder}: incomplete results (no {MANIFEST}: the command that wrote it did not finish); "
            "run it again"
        )
    try:
        info = json.loads(manifest.read_text(encoding="utf-8"))
        files = info["files"]
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{folder}: {MANIFEST} is not a ladder manifest; run the command again") from None
    checked = {n: d for n, d in files.items() if charts or not n.endswith(CHARTS)}
    bad = mismatched(folder, checked)
    if bad:
        raise InputError(
            f"{folder}: {', '.join(bad)} missing or changed since {MANIFEST} was written; "
            "run the command that wrote the folder again"
        )
    return info
