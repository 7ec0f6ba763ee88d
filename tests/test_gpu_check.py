"""benchmarks/gpu_check.sh, the prepared check for a machine with an NVIDIA GPU: its dry run
says what it would install and run, and the tree it installs finds the built-in plugins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from paths import ROOT


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path) -> None:
    out = tmp_path / "gpu-check"
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run"],
                          capture_output=True, text=True, env={**os.environ, "OUT": str(out)},
                          timeout=60)
    assert done.returncode == 0, done.stderr
    commands = [line[2:] for line in done.stdout.splitlines() if line.startswith("+ ")]
    assert any("install_tree.py" in c for c in commands)
    assert any(c.startswith("nvidia-smi") for c in commands)
    run = [c for c in commands if " -m flagbench run " in c]
    assert "--vendor cuda,ort-cuda --case resnet50,bert,gpt-decode" in run[0]
    assert "--precision fp32,tf32,fp16,bf16" in run[0]
    assert any("gemm.size=8192" in c for c in run)
    assert [c for c in run if "gemm.size=2048" in c and "--precision bf16" in c]  # the sweep
    assert any("torch_cuda_peak" in c for c in commands)
    assert any(f"--out {out}/gpu-check.html" in c for c in commands)
    assert not out.exists()  # a dry run makes nothing


def test_bad_arguments_are_refused() -> None:
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--now"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "usage:" in done.stderr


def test_the_installed_tree_finds_the_built_in_plugins(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "install_tree.py"),
                    str(tmp_path)], check=True, capture_output=True, timeout=60)
    code = ("import flagbench, sys; from flagbench.api.plugins import Registry; "
            "r = Registry.discover(); print(flagbench.__file__); "
            "print(sorted(r.vendors)); print(sorted(r.cases))")
    # Only the installed tree and the standard library's path: not this checkout's install.
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(tmp_path),
           "PYTHONNOUSERSITE": "1"}
    done = subprocess.run([sys.executable, "-I", "-c",
                           f"import sys; sys.path.insert(0, {str(tmp_path)!r}); " + code],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    where, vendors, cases = done.stdout.splitlines()
    assert where.startswith(str(tmp_path))
    assert "'cuda'" in vendors and "'ort-cuda'" in vendors and "'gpt-decode'" in cases
