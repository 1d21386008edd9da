import json
import subprocess
import sys

import pandas as pd
import pytest

from sim.app.cli import main
from tests.conftest import BASELINE, ROOT

DATA_FILES = ("tiers.parquet", "metrics.parquet", "firms.parquet")


def ladder(*args):
    return subprocess.run(
        [sys.executable, "-m", "sim.app.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_run_writes_every_output_and_a_manifest(tmp_path):
    out = tmp_path / "r"
    assert (
        main(
            [
                "run",
                str(BASELINE),
                "--seed",
                "4",
                "--years",
                "3",
                "--out",
                str(out),
                "--set",
                "population.firms=500",
            ]
        )
        == 0
    )
    for name in (*DATA_FILES, "tiers.png", "manifest.json"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["years"] == 3
    assert len(manifest["scenario"]["sha256"]) == 64
    assert manifest["parameters"]["population"]["firms"] == 500
    tiers = pd.read_parquet(out / "tiers.parquet")
    assert list(tiers.columns) == [
        "year",
        "tier",
        "stock",
        "new",
        "first",
        "renewed",
        "removed",
        "ended",
        "exited",
    ]
    assert tiers["year"].min() == 2023 and tiers["year"].max() == 2026
    firms = pd.read_parquet(out / "firms.parquet")
    assert firms["firm_id"].is_unique
    assert {"srdi", "little_giant", "first_srdi", "alive"} <= set(firms.columns)
    assert firms.loc[firms["srdi"], "first_srdi"].notna().all()
    assert (~firms["alive"]).any(), "exited firms keep their row"


def test_same_seed_gives_byte_identical_data_files(tmp_path):
    runs = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        out = tmp_path / name
        main(
            [
                "run",
                str(BASELINE),
                "--seed",
                str(seed),
                "--years",
                "3",
                "--out",
                str(out),
                "--set",
                "population.firms=600",
            ]
        )
        runs.append({f: (out / f).read_bytes() for f in DATA_FILES})
    assert runs[0] == runs[1]
    assert runs[0]["firms.parquet"] != runs[2]["firms.parquet"]


@pytest.mark.parametrize(
    ("setting", "fragment"),
    [
        ("population.bogus=1", "population.bogus: unknown key"),
        ("population.firms='many'", "population.firms"),
        ("population.firms=-3", "population.firms"),
        ("dynamics.class1_share=1.2", "dynamics.class1_share"),
        ("certification.apply_probability.srdi=1.5", "certification.apply_probability.srdi"),
        ("nosuch.key=1", "nosuch: unknown key"),
        ("population.firms.x=1", "population.firms.x is inside a value, not a table"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(setting, fragment):
    result = ladder("run", str(BASELINE), "--set", setting, "--years", "1")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "baseline.toml" in lines[0] and fragment in lines[0]


def test_bad_scenario_file_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BASELINE.read_text().replace("[population]", "[population]\nfirmz = 3"))
    result = ladder("run", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {bad}: population.firmz: unknown key"


def test_missing_scenario_file(tmp_path):
    result = ladder("run", str(tmp_path / "none.toml"))
    assert result.returncode == 2 and "file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_show_cites_the_range_of_every_behavioural_default_a_scenario_inherits():
    result = ladder("show", str(ROOT / "scenarios" / "yuyao-2024.toml"))
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("levers.rd_subsidy.additionality ="))
    assert "# default; range [0, 1]: " in line and "Dimos & Pugh 2016" in line
