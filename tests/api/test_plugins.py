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
