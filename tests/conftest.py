from pathlib import Path

import pytest

from sim.batch.runner import BatchOptions

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "economies" / "baseline.toml"


@pytest.fixture
def small_overrides() -> list[str]:
    """A small, quick version of the baseline."""
    return ["population.firms=800", "run.years=4"]


ONE_WORKER = BatchOptions(workers=1, progress=False)


def count_executions(monkeypatch) -> list[str]:
    """Keys of the runs the batch engine executes from now on (one worker: in this process)."""
    from sim.batch import runner

    executed: list[str] = []
    execute = runner.execute

    def counted(spec, key, out_dir):
        executed.append(key)
        return execute(spec, key, out_dir)

    monkeypatch.setattr(runner, "execute", counted)
    return executed
