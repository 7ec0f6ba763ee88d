"""Discovery through entry points, built-ins and external plugins alike, broken ones kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from flagbench.api.errors import FlagbenchError
from flagbench.api.plugins import Registry


def test_builtins_are_found_through_entry_points() -> None:
    registry = Registry.discover()
    assert registry.vendors["cpu"].target == "flagbench.vendors.torch_eager:CpuVendor"
    assert registry.cases["resnet50"].distribution == "flagbench"
    assert registry.vendor("cpu").name == "cpu"
    assert registry.case("resnet50").task == "classification"


def test_external_and_broken_plugins(plugin_site: Path) -> None:
    registry = Registry.discover()
    assert not registry.cases["tiny-mlp"].broken
    assert registry.case("tiny-mlp").name == "tiny-mlp"

    broken = registry.vendors["broken-import"]
    assert broken.broken
    assert "ModuleNotFoundError" in (broken.error or "")
    assert "flagbench_missing_dependency" in (broken.error or "")

    wrong = registry.vendors["not-a-vendor"]
    assert wrong.broken and "missing probe, prepare" in (wrong.error or "")

    # Working plugins are unaffected by the broken ones.
    assert not registry.vendors["cpu"].broken
    with pytest.raises(FlagbenchError, match="is broken"):
        registry.vendor("broken-import")


def test_unknown_names_suggest_close_ones() -> None:
    registry = Registry.discover()
    with pytest.raises(FlagbenchError, match="did you mean resnet50"):
        registry.case("resnet5")
    with pytest.raises(FlagbenchError, match="unknown vendor 'gpu'.*known: .*cpu"):
        registry.vendor("gpu")


def test_listing_does_not_import_torch(flagbench) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    code = (
        "import sys; from flagbench.api.plugins import Registry; r = Registry.discover(); "
        "assert 'resnet50' in r.cases and 'cpu' in r.vendors; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _site(root: Path, plugins: dict[str, str]) -> Path:
    """A distribution on a path of its own: one vendor entry point per module source."""
    info = root / "hostile_plugins-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-plugins\n"
                                   "Version: 0.0\n")
    (info / "entry_points.txt").write_text(
        "[flagbench.vendors]\n" + "".join(f"{n} = hostile_{n}:Vendor\n" for n in plugins))
    for name, source in plugins.items():
        (root / f"hostile_{name}.py").write_text(source)
    return root


#: (plugin, its module's source, what its error says): none of them may end the CLI.
HOSTILE = [
    ("exits", "raise SystemExit(3)\n", "failed to load: SystemExit: 3"),
    ("base", "raise GeneratorExit('nope')\n", "failed to load: GeneratorExit: nope"),
    ("hangs", "import time\nwhile True:\n    time.sleep(0.05)\n", "still loading after 0.3 s"),
    ("spins", "try:\n    while True:\n        pass\nexcept Exception:\n    pass\n",
     "still loading after 0.3 s"),
]


def test_a_plugin_that_exits_or_hangs_at_import_is_only_broken(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flagbench.api import plugins

    monkeypatch.setattr(plugins, "LOAD_TIMEOUT_S", 0.3)
    monkeypatch.syspath_prepend(str(_site(tmp_path, {n: src for n, src, _ in HOSTILE})))
    registry = Registry.discover()
    for name, _, error in HOSTILE:
        assert registry.vendors[name].broken and error in (registry.vendors[name].error or "")
    assert not registry.vendors["cpu"].broken


def test_ctrl_c_during_discovery_is_the_users(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(_site(tmp_path, {"ctrlc": "raise KeyboardInterrupt\n"})))
    with pytest.raises(KeyboardInterrupt):
        Registry.discover()


def test_python_m_does_not_load_plugins_from_the_working_directory(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    marker = tmp_path / "imported"
    _site(tmp_path, {"planted": f"open({str(marker)!r}, 'w').close()\n"})
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-m", "flagbench", "list", "vendors"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "planted" not in done.stdout and not marker.exists()
