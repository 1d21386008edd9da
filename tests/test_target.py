"""`ladder target`: the cheapest package for a target, searched by Optuna through compare; resumable."""

import contextlib
import io
import json
from pathlib import Path

import optuna
import pandas as pd
import pytest

import sim.batch.runner as runner
from sim.analysis.target import JOURNAL, open_study, pareto_front, run_target
from sim.app.cli import main
from sim.io.target_file import load_target
from tests.conftest import BASELINE, ONE_WORKER, count_executions

ECONOMY = (
    f'extends = "{BASELINE}"\n[meta]\nname = "tiny"\n[population]\nfirms = 500\n'
    "[run]\nstart_year = 2024\nyears = 3\n[certification]\nwarmup_years = 2\n"
)
PACKAGE = (
    '[meta]\nname = "awards"\n[levers.award]\nliquidity_share = 1.0\n'
    'items = [{tier = "innovative", level = "city", amount = 10}, {tier = "srdi", level = "county", amount = 50}]\n'
)
TARGET = """
[target]
name = "tiny-target"
economy = "economy.toml"
package = "package.toml"

[search]
trials = {trials}
replications = 2
seed = 5
startup_trials = 2
confirm_replications = 2

[[goals]]
tier = "innovative"
by_year = 2025
added = {goal}
probability = 0.5

[[levers]]
path = "levers.award.items[0].amount"
low = 0
high = 500

[[levers]]
path = "levers.award.items[1].amount"
values = [0, 100]

[budget]
per_level = {{ city = {cap} }}
"""


def write(tmp_path: Path, trials: int = 4, goal: int = 1, cap: float = 1e6, extra: str = "") -> Path:
    (tmp_path / "economy.toml").write_text(ECONOMY, encoding="utf-8")
    (tmp_path / "package.toml").write_text(PACKAGE, encoding="utf-8")
    path = tmp_path / "target.toml"
    path.write_text(TARGET.format(trials=trials, goal=goal, cap=cap) + extra, encoding="utf-8")
    return path


def ladder(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def executed(monkeypatch) -> list[str]:
    """Every run key the batch engine simulates (one worker: in this process)."""
    return count_executions(monkeypatch)


def test_target_reports_the_cheapest_feasible_package_with_its_confirmation(tmp_path):
    path = write(tmp_path, goal=1)
    out = tmp_path / "out"
    code, text, err = ladder("target", str(path), "--workers", "1", "--quiet", "--out", str(out))
    assert code == 0, err
    trials = pd.read_csv(out / "trials.csv", encoding="utf-8-sig")
    assert len(trials) == 4
    assert "cheapest package meeting every goal within budget: trial" in text
    cheapest = trials[trials["feasible"]].sort_values("cost_mean").iloc[0]
    assert f"trial {int(cheapest['trial'])}," in text
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "target" and manifest["reported"] == "cheapest feasible"
    assert manifest["confirmation"]["base_seed"] == 6  # fresh seeds: the search's + 1
    written = out / manifest["confirmation"]["package"]
    assert written.is_file() and "extends" not in written.read_text(encoding="utf-8")
    for name in ("pareto.csv", "pareto.png", "summary.csv", "effects.csv", "effects.png", JOURNAL):
        assert (out / name).is_file(), name


def test_a_trials_figures_are_the_compare_of_that_package_against_no_policy(tmp_path):
    """One source of "additional firms": a trial's figures equal `ladder compare` of its package."""
    path = write(tmp_path, trials=2)
    spec = load_target(path)
    result = run_target(spec, tmp_path / "out", ONE_WORKER)
    trial = result.trials.iloc[-1]
    package = tmp_path / "found.toml"
    from sim.io.target_file import write_package

    values = {p.path: p.cast(trial[p.path]) for p in spec.file.levers}
    write_package(spec, values, package, "test")
    code, _, err = ladder(
        "compare", "--economy", str(tmp_path / "economy.toml"), str(package), "--reps", "2", "--seed", "5",
        "--years", "2", "--workers", "1", "--quiet", "--out", str(tmp_path / "cmp"),
    )  # fmt: skip
    assert code == 0, err
    summary = pd.read_parquet(tmp_path / "cmp" / "summary.parquet")
    add = summary[
        (summary["metric"] == "additional") & (summary["tier"] == "innovative") & (summary["year"] == 2025)
    ]
    cost = summary[(summary["metric"] == "cost_total") & (summary["package"] == "found")]
    assert trial["goal0_additional"] == pytest.approx(float(add["mean"].iloc[0]))
    assert trial["cost_mean"] == pytest.approx(float(cost["mean"].iloc[0]))


def test_an_unreachable_target_is_said_so_with_the_best_reachable_figure(tmp_path):
    path = write(tmp_path, trials=3, goal=400)  # more new innovative SMEs in two years than 500 firms give
    code, text, err = ladder("target", str(path), "--workers", "1", "--quiet", "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert "no package within the bounds meets every goal within budget" in text
    assert "innovative: P = 0.00 at best" in text
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["reported"] == "best reachable"


def test_a_package_over_budget_is_never_reported_as_cheapest_feasible(tmp_path):
    path = write(
        tmp_path, trials=3, cap=0.0
    )  # the city may spend nothing, but every package pays city awards
    spec = load_target(path)
    result = run_target(spec, tmp_path / "out", ONE_WORKER)
    spent = result.trials["worst_year_spend_city"] > 0
    assert spent.any()
    assert not result.trials.loc[spent, "within_budget"].any()
    assert not result.trials.loc[spent, "feasible"].any()


def test_a_killed_search_resumes_without_running_any_run_twice_and_finds_what_an_unbroken_one_finds(
    tmp_path, executed, monkeypatch
):
    path = write(tmp_path, trials=5)
    spec = load_target(path)
    unbroken = run_target(spec, tmp_path / "unbroken", ONE_WORKER).trials
    executed.clear()

    calls = {"n": 0}
    counting = runner.execute

    def dies_on_the_ninth_run(spec_, key, out_dir):
        calls["n"] += 1
        if calls["n"] == 9:  # in trial 3, after the sampler has proposed by TPE once (startup_trials = 2)
            raise KeyboardInterrupt
        return counting(spec_, key, out_dir)

    monkeypatch.setattr(runner, "execute", dies_on_the_ninth_run)
    with pytest.raises(KeyboardInterrupt):
        run_target(spec, tmp_path / "killed", ONE_WORKER)
    before = list(executed)
    monkeypatch.setattr(runner, "execute", counting)
    # a kill by SIGKILL leaves the trial RUNNING in the journal: make one to resume from as well
    open_study(spec, tmp_path / "killed").ask()
    resumed = run_target(spec, tmp_path / "killed", ONE_WORKER).trials
    assert len(executed) == len(set(executed)), "a run was executed twice"
    assert len(before) < len(executed)
    columns = [p.path for p in spec.file.levers] + ["cost_mean", "goal0_additional", "goal0_probability"]
    pd.testing.assert_frame_equal(
        resumed[columns].reset_index(drop=True), unbroken[columns].reset_index(drop=True)
    )


def test_a_journal_of_another_target_file_is_refused(tmp_path):
    path = write(tmp_path, trials=1)
    run_target(load_target(path), tmp_path / "out", ONE_WORKER)
    path = write(tmp_path, trials=2, goal=2)
    code, _, err = ladder("target", str(path), "--workers", "1", "--quiet", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "written by a search on other files" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("extra", "replace", "expected"),
    [
        ("bogus = 1\n", None, "budget.bogus: unknown key"),
        ("", ('tier = "innovative"', 'tier = "mayor"'), "goals[0].tier: 'mayor' is not a model tier"),
        ("", ("items[0].amount", "items[5].amount"), "levers.award.items[5]: no such array item"),
        ("", ("high = 500", "high = -5"), "low must be below high"),
        (
            "",
            ("by_year = 2025", "by_year = 2020"),
            "goals[0].by_year: 2020 is before the economy's first year 2024",
        ),
        ("", ("probability = 0.5", "probability = 1.5"), "goals.0.probability"),
        (
            "",
            ('path = "levers.award.items[1].amount"', 'path = "population.firms"'),
            "a lever of the package",
        ),
        (
            "",
            ("trials = 4\nreplications = 2", "trials = 9000\nreplications = 9000"),
            "at most 1,000,000 runs",
        ),
    ],
)
def test_bad_target_files_get_one_line_naming_the_file_and_key(tmp_path, extra, replace, expected):
    path = write(tmp_path, extra=extra)
    if replace:
        path.write_text(path.read_text(encoding="utf-8").replace(*replace), encoding="utf-8")
    code, out, err = ladder("target", str(path), "--quiet", "--out", str(tmp_path / "o"))
    assert code == 2
    assert expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_the_pareto_front_keeps_packages_no_cheaper_one_beats_and_leaves_out_those_over_budget():
    trials = pd.DataFrame(
        {
            "trial": [0, 1, 2, 3, 4],
            "cost_mean": [10.0, 20.0, 30.0, 40.0, 5.0],
            "goal0_additional": [1.0, 0.5, 3.0, 3.0, 9.0],
            "within_budget": [True, True, True, True, False],
        }
    )
    assert list(pareto_front(trials, 0)["trial"]) == [0, 2]


def test_the_shipped_yuyao_target_file_loads_and_cites_its_targets():
    from tests.conftest import ROOT

    spec = load_target(ROOT / "experiments" / "target-yuyao.toml")
    assert [(g.tier, g.added) for g in spec.file.goals] == [
        ("high_tech", 200),
        ("little_giant", 75),
        ("single_champion", 15),
    ]
    assert all(
        g.sources["added"].startswith("Yuyao reply 2024 L2") and "L26" in g.sources["added"]
        for g in spec.file.goals
    )
    assert spec.years == 1


def test_trials_are_optuna_trials_in_a_journal(tmp_path):
    path = write(tmp_path, trials=2)
    run_target(load_target(path), tmp_path / "out", ONE_WORKER)
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(tmp_path / "out" / JOURNAL)))
    study = optuna.load_study(study_name="tiny-target", storage=storage)
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 2
