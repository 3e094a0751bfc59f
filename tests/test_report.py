"""The report page and the dataset card of a real (small) run.

The page is checked in a real headless Chromium: a screenshot is taken, the console
shows no error, nothing is fetched, and records holding markup are shown as text with
nothing executed (proved from the page, with and without its Content-Security-Policy).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from instructkit.cli.app import main
from instructkit.report import report, write_report
from tests.helpers import cli
from tests.report_run import HOSTILE_SOURCE, PAYLOADS, build_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1200,900",
]  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_run(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def written(run_dir: Path) -> dict:
    return write_report(run_dir, run_dir / "report.html", run_dir / "README.md", "demo-mix", [])


def _funnel(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "summary.json").read_text())["steps"]


def test_page_has_every_section(run_dir: Path, written: dict) -> None:
    html = (run_dir / "report.html").read_text()
    for anchor in ("funnel", "sources", "distributions", "languages", "contamination",
                   "duplicates", "selection", "recipe"):  # fmt: skip
        assert f'id="{anchor}"' in html, anchor
    assert 'id="evolve"' not in html  # no evolve step: no section
    assert "<script" not in html.replace("&lt;script", "")
    for entry in _funnel(run_dir):
        assert f"{entry['records_in']:,}" in html
        for reason in entry["rejected"]:
            assert f"<b>{reason}</b>" in html
    assert written["html_bytes"] == (run_dir / "report.html").stat().st_size


def test_card_parses_and_holds_every_count(run_dir: Path, written: dict) -> None:
    hub = pytest.importorskip("huggingface_hub")
    text = (run_dir / "README.md").read_text()
    card = hub.DatasetCard(text)
    data = card.data.to_dict()
    assert isinstance(card.data, hub.DatasetCardData)
    assert sorted(data["license"]) == ["cc-by-nc-4.0", "cc-by-sa-3.0", "mit"]
    assert data["size_categories"] == ["n<1K"]
    assert data["task_categories"] == ["text-generation"]
    assert "en" in data["language"]
    assert data["configs"][0]["data_files"][0]["path"] == "05-select/data.parquet"
    assert data["annotations_creators"] == ["found"]
    assert "License conflict" in text and "cc-by-nc-4.0" in text and "cc-by-sa-3.0" in text
    assert "toybench" in text and "not** checked" not in text
    # Every count of the run's funnel and statistics is in the card (settings and timings aside).
    missing = []

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k != "config" and "seconds" not in k:
                    walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}.{i}")
        elif isinstance(value, int) and not isinstance(value, bool):
            if f"{value:,}" not in text:
                missing.append(path)

    walk(_funnel(run_dir), "summary")
    assert not missing
    # Markup in a source name is escaped in the card too (a fenced code block shows it as text).
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    assert HOSTILE_SOURCE not in prose and "&lt;img src=x" in prose


def test_step_outputs_as_input(run_dir: Path, tmp_path: Path) -> None:
    outputs = sorted(run_dir.glob("0[1-4]-*/data.parquet"))
    result = cli("report", *outputs, "-o", tmp_path / "r.html", "--card", tmp_path / "README.md",
                 "--license", "alpaca=cc-by-nc-4.0")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    html = (tmp_path / "r.html").read_text()
    assert 'id="contamination"' in html and 'id="selection"' not in html
    assert "cc-by-nc-4.0" in (tmp_path / "README.md").read_text()


def _main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: object
) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["instructkit", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        main()
    return int(exit_.value.code), capsys.readouterr().err


def test_clear_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    code, err = _main(monkeypatch, capsys, "report", tmp_path, "-o", tmp_path / "r.html")
    assert code == 2 and "not a run directory" in err and "Traceback" not in err
    (tmp_path / "x.jsonl").write_text("{}\n")
    code, err = _main(
        monkeypatch, capsys, "report", tmp_path / "x.jsonl", "-o", tmp_path / "r.html"
    )
    assert code == 2 and "no summary file" in err
    code, err = _main(
        monkeypatch, capsys, "report", tmp_path / "x.jsonl", "-o", "r.html", "--license", "mit"
    )
    assert code == 2 and "SOURCE=LICENSE" in err


def test_evolve_rounds_section(run_dir: Path, tmp_path: Path) -> None:
    """A run with an evolve step shows its rounds (entry as StepLog.summary writes it)."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    summary = copy / "04-score" / "data.summary.json"
    data = json.loads(summary.read_text())
    data["steps"]["score"]["rounds"] = [
        {"round": 1, "evolved": 10, "survived": 7, "eliminated": {"copied_prompt": 3},
         "operations": {"deepen": 5, "<b>concretize</b>": 5}, "mean_complexity_gain": 0.125},
    ]  # fmt: skip
    data["steps"]["score"]["step"] = "score"
    summary.write_text(json.dumps(data))
    (copy / "04-score").rename(copy / "04-evolve")
    data["steps"] = {"evolve": data["steps"]["score"]}
    (copy / "04-evolve" / "data.summary.json").write_text(json.dumps(data))
    report([copy], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert 'id="evolve"' in html and "copied_prompt 3" in html
    assert "&lt;b&gt;concretize&lt;/b&gt;" in html


# --- in a real browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium fetch a driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def _visit(driver, page: Path) -> dict:  # noqa: ANN001
    driver.get_log("browser")  # empty the logs of the previous page
    driver.get_log("performance")
    driver.get(page.as_uri())
    state = driver.execute_script(
        """document.querySelectorAll('details').forEach(d => { d.open = true; });
        return {
            pwned: window.__pwned === undefined ? null : window.__pwned,
            text: document.body.innerText,
            resources: performance.getEntriesByType('resource').map(e => e.name),
            scripts: document.scripts.length,
            live: document.querySelectorAll('img, iframe, link[rel=stylesheet], a[href^="javascript"], [onerror], [onload]').length,
            styles: document.querySelectorAll('style').length,
        }"""
    )
    console = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    requests = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            url = msg["params"]["request"]["url"]
            # Inline data: URLs (the rasterised scatter) are not fetches; Chromium's own
            # chrome:// pages load on start.  Anything else is a request.
            if not url.startswith(("data:", "chrome://")):
                requests.append(url)
    return state | {"console": console, "requests": requests}


def _assert_inert(state: dict, page: Path) -> None:
    assert state["pwned"] is None, "a payload ran"
    assert state["scripts"] == 0 and state["live"] == 0
    assert state["resources"] == []
    assert [u for u in state["requests"] if u != page.as_uri()] == []
    text = re.sub(r"\s+", " ", state["text"])
    for payload in PAYLOADS[:5]:
        assert re.sub(r"\s+", " ", payload) in text, payload
    assert HOSTILE_SOURCE in text


def test_browser_renders_without_errors_fetches_or_execution(
    run_dir: Path, written: dict, browser, tmp_path: Path
) -> None:  # noqa: ANN001
    page = run_dir / "report.html"
    state = _visit(browser, page)
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    assert state["console"] == []
    _assert_inert(state, page)
    # Escaping alone holds: the same page without its Content-Security-Policy runs nothing either.
    bare = tmp_path / "no-csp.html"
    bare.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page.read_text())
    )
    assert "Content-Security-Policy" not in bare.read_text()
    state = _visit(browser, bare)
    assert state["console"] == []
    _assert_inert(state, bare)
