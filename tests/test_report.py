"""`ladder report DIR`: one self-contained bilingual page, checked as headless Chromium renders it."""

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_target import ladder, write

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is installed by `make test`")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A tiny compare, sweep and target folder."""
    tmp = tmp_path_factory.mktemp("folders")
    target = write(tmp, trials=2)
    out = {"target": tmp / "target", "compare": tmp / "compare", "sweep": tmp / "sweep"}
    code, _, err = ladder("target", str(target), "--workers", "1", "--quiet", "--out", str(out["target"]))
    assert code == 0, err
    code, _, err = ladder(
        "compare", "--economy", str(tmp / "economy.toml"), str(tmp / "package.toml"), "--reps", "2",
        "--workers", "1", "--quiet", "--out", str(out["compare"]),
    )  # fmt: skip
    assert code == 0, err
    experiment = tmp / "sweep.toml"
    experiment.write_text(
        '[experiment]\nname = "tiny-sweep"\nscenarios = []\neconomy = "economy.toml"\n'
        'packages = ["package.toml"]\nreplications = 2\n[design]\nmethod = "grid"\n'
        '[[design.parameters]]\npath = "levers.award.items[1].amount"\nvalues = [0, 100]\n',
        encoding="utf-8",
    )
    code, _, err = ladder("sweep", str(experiment), "--workers", "1", "--quiet", "--out", str(out["sweep"]))
    assert code == 0, err
    return out


CHARTS = {
    "compare": ["effects", "tiers_bands", "budget_by_level", "pyramid"],
    "target": ["pareto", "effects", "tiers_bands", "budget_by_level", "pyramid"],
    "sweep": ["sweep"],
}
TABLES = {
    "compare": ["effects", "tiers-by-year", "cost-by-year", "cost-per-additional"],
    "target": [
        "pareto",
        "confirmation",
        "effects",
        "tiers-by-year",
        "cost-by-year",
        "cost-per-additional",
        "targets",
    ],
    "sweep": ["sweep"],
}


@needs_chromium
@pytest.mark.parametrize("kind", ["compare", "target", "sweep"])
def test_the_rendered_page_holds_every_chart_decoded_and_every_table(folders, kind, tmp_path):
    folder = folders[kind]
    code, out, err = ladder("report", str(folder))
    assert code == 0, err
    page = folder / "report.html"
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", text), "the page must need no network"
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    for chart in CHARTS[kind]:
        figure = re.search(rf'<figure id="chart-{chart}"><img[^>]*>', dom)
        assert figure, f"chart {chart} missing"
        width = re.search(r'data-decoded-width="(\d+)"', figure.group(0))
        assert width and int(width.group(1)) > 0, f"chart {chart} did not decode"
        embedded = re.search(r'src="data:image/png;base64,([^"]+)"', figure.group(0)).group(1)
        assert base64.b64decode(embedded) == (folder / f"{chart}.png").read_bytes(), (
            f"chart {chart} cut short"
        )
    for ident in TABLES[kind]:
        assert re.search(rf'<table id="{ident}">.*?<td>', dom, re.S), f"table {ident} missing or empty"
    for heading in ("The question · 问题", "How far to trust this · 可信度", "The economy and the packages"):
        assert heading in dom
    # listed in the folder's manifest: the folder stays complete
    code, _, err = ladder("plot", str(folder))
    assert code == 0, err


@needs_chromium
def test_the_page_prints_to_pdf_with_every_chart(folders, tmp_path):
    folder = folders["target"]
    assert ladder("report", str(folder))[0] == 0
    pdf = tmp_path / "page.pdf"
    chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", (folder / "report.html").as_uri())
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    images = len(re.findall(rb"/Subtype\s*/Image", data))
    assert pages >= 2
    assert images >= len(CHARTS["target"])


def test_a_report_of_an_incomplete_folder_is_refused(folders, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(folders["compare"], broken)
    (broken / "manifest.json").unlink()
    code, _, err = ladder("report", str(broken))
    assert code == 2 and "incomplete results" in err and err.count("\n") == 1


def test_the_trust_box_reads_the_shipped_validation_report():
    """Every missed check and the top assumptions of each outcome, whatever the section's number."""
    from sim.app.handout import VALIDATION, trust_box

    box = trust_box("scenarios/economies/yuyao.toml")
    assert "no sensitivity ranking recorded" not in box
    assert re.search(r"<li><b>stock\.\w+</b>: \S+", box), "no outcome with its top parameters"
    missed = VALIDATION.read_text(encoding="utf-8").split("### Targets missed by more than 10 %, and why")[1]
    first = re.search(r"^- \*\*(.+?)\*\*", missed, re.M).group(1)
    assert f"<b>{first}</b>" in box
