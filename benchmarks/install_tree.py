"""Install this source tree into a folder as pyproject lays it out, without building: the core,
``vendors/``, ``cases/`` and ``reports/`` as ``flagbench.vendors`` … and a dist-info with the
entry points, so plugin discovery finds the built-ins. For machines that reach no package
index and may lack a recent setuptools (benchmarks/gpu_check.sh).

    python benchmarks/install_tree.py TARGET
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def install(target: Path) -> None:
    """Copy the packages and write ``flagbench-VERSION.dist-info`` into ``target``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    package_dirs = project["tool"]["setuptools"]["package-dir"]
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.rmtree(target / "flagbench", ignore_errors=True)
    shutil.copytree(ROOT / package_dirs["flagbench"], target / "flagbench", ignore=ignore)
    for name, folder in package_dirs.items():
        if name != "flagbench":
            shutil.copytree(ROOT / folder, target / Path(*name.split(".")), ignore=ignore)
    meta = project["project"]
    info = target / f"flagbench-{meta['version']}.dist-info"
    shutil.rmtree(info, ignore_errors=True)
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: flagbench\nVersion: {meta['version']}\n", encoding="utf-8")
    groups = [f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
              for group, eps in meta["entry-points"].items()]
    scripts = "".join(f"{k} = {v}\n" for k, v in meta["scripts"].items())
    (info / "entry_points.txt").write_text(
        "[console_scripts]\n" + scripts + "\n" + "\n".join(groups), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python benchmarks/install_tree.py TARGET")
    install(Path(sys.argv[1]))
    print(f"installed flagbench into {sys.argv[1]}")
