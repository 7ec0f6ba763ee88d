"""The report in a real browser (headless Chromium): it loads without script errors, shows
the matrix, and leaves a screenshot under .ci/artifacts/. CI must have Chromium (.ci/run
installs it): with CI set, a missing browser fails this test instead of skipping it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flagbench.report.output_file import write_output
from flagbench.report.render import ReportOptions, render_report
from flagbench.store import Store
from paths import ROOT
from seeding import seed_issue_matrix

ARTIFACTS = ROOT / ".ci" / "artifacts"
# --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
          "--no-first-run", "--disable-extensions", "--allow-file-access-from-files"]


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("CI is set but Chromium is not installed (.ci/run installs it with apt)")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


def _dump_dom(browser: str, page: Path) -> str:
    out = subprocess.run([browser, *_FLAGS, "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.fixture
def report_file(db_path: Path, tmp_path: Path) -> Path:
    seed_issue_matrix(db_path)
    store = Store.open(str(db_path), create=False)
    html = render_report(store.runs(), store.label, store, ReportOptions(baseline="cpu"))
    store.close()
    return write_output(html, str(tmp_path / "report.html"))


def test_report_loads_shows_the_matrix_and_is_screenshotted(
        report_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    browser = _browser()
    dom = _dump_dom(browser, report_file)
    root = re.search(r"<html[^>]*>", dom)
    assert root, dom[:500]
    assert "data-script-errors" not in root.group(0), root.group(0)
    ready = re.search(r'data-report-ready="(\d+)"', root.group(0))
    assert ready, "the report's script did not run to its end"
    assert int(ready.group(1)) == 4  # rows: fp32, int8, throughput bs8 here; fp16 on the lab host
    assert 'id="matrix"' in dom and "cpu (baseline)" in dom

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-screenshot.png"
    shot.unlink(missing_ok=True)
    out = subprocess.run([browser, *_FLAGS, "--window-size=1400,2400",
                          f"--screenshot={shot}", report_file.as_uri()],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    with capsys.disabled():
        print(f"\nreport screenshot: {shot}")


def test_a_script_error_would_be_caught(report_file: Path) -> None:
    browser = _browser()
    broken = report_file.with_name("broken.html")
    broken.write_text(report_file.read_text().replace(
        "</body>", "<script>undefinedFunction();</script></body>"))
    root = re.search(r"<html[^>]*>", _dump_dom(browser, broken))
    assert root and "undefinedFunction is not defined" in root.group(0)
