"""The example external vendor, installed by pip for real and run through the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flagbench.store import Store
from paths import PLUGIN_SITE, ROOT  # the tiny case lives in PLUGIN_SITE

EXAMPLE = ROOT / "examples" / "flagbench-torchscript"


@pytest.fixture(scope="module")
def torchscript_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Install the example into a private target once; the child environment that sees it."""
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("src") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    # Offline: no index, no dependencies, and the setuptools already in this environment.
    out = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
         "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
         str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # The flagbench fixture puts the plugin site on PYTHONPATH; an env= value replaces it.
    paths = (str(target), str(PLUGIN_SITE), os.environ.get("PYTHONPATH", ""))
    return {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def test_list_shows_the_installed_vendor(flagbench, torchscript_env: dict[str, str]) -> None:
    out = flagbench("list", "vendors", env=torchscript_env)
    assert out.returncode == 0, out.stderr
    rows = [[cell.strip() for cell in line.split("│")[1:4]]
            for line in out.stdout.splitlines() if line.startswith("│")]
    assert ["torchscript", "loaded",
            "flagbench-torchscript (flagbench_torchscript:TorchScriptVendor)"] in rows


def test_run_through_the_installed_vendor(flagbench, quick, torchscript_env: dict[str, str],
                                          tmp_path: Path) -> None:
    db = tmp_path / "ts.db"
    out = flagbench("run", "--vendor", "torchscript,cpu", "--case", "tiny-mlp",
                    "--precision", "fp32,bf16", "--cpu-tdp", "65", "--db", str(db), *quick,
                    env=torchscript_env)
    label = "torchscript × tiny-mlp[activation=relu,hidden=32] bs1 fp32: ok"
    assert label in out.stdout, out.stdout + out.stderr
    store = Store.open(str(db), create=False)
    runs = {(r.vendor, r.precision): r for r in store.runs()}
    store.close()
    ts = runs[("torchscript", "fp32")]
    assert ts.status == "ok", ts.reason
    assert ts.metric("fidelity_cosine") == pytest.approx(1.0, abs=1e-5)
    assert ts.metric("fidelity_top1_agreement") == 1.0
    assert ts.actual["device"] == "cpu" and ts.actual["precision"] == "fp32"
    assert ts.actual["details"]["mode"].startswith("torchscript trace + freeze")
    assert ts.actual["threads"] >= 1
    skipped = runs[("torchscript", "bf16")]
    assert skipped.status == "skipped" and "converts no dtypes" in skipped.reason
    cpu = runs[("cpu", "fp32")]
    assert cpu.status == "ok"
    # An external CPU vendor is offered what the built-in one has: the same energy meter
    # (RAPL, else the --cpu-tdp estimate) and the same CPU peak behind its MFU.
    assert ts.environment["energy"] == cpu.environment["energy"]
    assert ts.metric("energy_j") is not None
    assert ts.metric("peak_flops") == cpu.metric("peak_flops")
