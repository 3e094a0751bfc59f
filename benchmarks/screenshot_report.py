"""The README's screenshot: the demo run of the tests, rendered in headless chromium.

python benchmarks/screenshot_report.py docs/report-screenshot.png
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from instructkit.report import report
from tests.report_run import build_run


def main(png: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = build_run(Path(tmp))
        report([run], run / "report.html")
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1100,1500",
                     "--disable-background-networking", f"--user-data-dir={tmp}/profile"):  # fmt: skip
            opts.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            driver.get((run / "report.html").as_uri())
            driver.save_screenshot(str(png))
        finally:
            driver.quit()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
