"""Case options: declared by the case, resolved and checked in the plan, recorded per run."""

from __future__ import annotations

from pathlib import Path

import pytest

from flagbench.api.errors import FlagbenchError
from flagbench.api.plugins import Registry
from flagbench.run.plan import Request, build_plan
from flagbench.store import Store


def test_plan_fills_defaults_and_parses_given_values(plugin_site: Path) -> None:
    registry = Registry.discover()
    specs = build_plan(Request(vendors=("cpu",), cases=("tiny-mlp", "resnet50"),
                               case_options={"tiny-mlp": {"hidden": "64"}}), registry)
    by_case = {s.case: s for s in specs}
    assert by_case["tiny-mlp"].options == (("activation", "relu"), ("hidden", 64))
    assert by_case["resnet50"].options == ()  # a case without options
    assert "tiny-mlp[activation=relu,hidden=64]" in by_case["tiny-mlp"].label


def test_options_are_part_of_the_cell() -> None:
    from flagbench.api.spec import RunSpec

    a = RunSpec(vendor="cpu", case="tiny-mlp", options=(("hidden", 8),))
    b = RunSpec(vendor="cpu", case="tiny-mlp", options=(("hidden", 16),))
    assert a.cell != b.cell


def test_unknown_option_is_refused_with_the_known_ones(plugin_site: Path) -> None:
    with pytest.raises(FlagbenchError, match="its options: activation, hidden"):
        build_plan(Request(vendors=("cpu",), cases=("tiny-mlp",),
                           case_options={"tiny-mlp": {"width": "3"}}), Registry.discover())


def test_the_option_changes_the_model_and_is_stored(flagbench, quick, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAGBENCH_CACHE", str(tmp_path / "cache"))  # an empty FLOP cache
    db = tmp_path / "o.db"
    out = flagbench("run", "--vendor", "cpu", "--case", "tiny-mlp", "-o", "hidden=100",
                    "--db", str(db), *quick)
    assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    (run,) = store.runs()
    store.close()
    assert run.spec["options"] == [["activation", "relu"], ["hidden", 100]]
    # 16→100 and 100→10 linear layers: 2·(16·100 + 100·10) FLOPs per sample
    assert run.metric("flops_per_sample") == 2 * (16 * 100 + 100 * 10)
    # A second width is counted afresh; the first width again comes from the FLOP cache.
    for hidden in (50, 100):
        out = flagbench("run", "--vendor", "cpu", "--case", "tiny-mlp", "-o", f"hidden={hidden}",
                        "--db", str(db), *quick)
        assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    hundred, fifty, _ = store.runs()  # newest first
    store.close()
    assert fifty.metric("flops_per_sample") == 2 * (16 * 50 + 50 * 10)
    assert hundred.metric("flops_per_sample") == run.metric("flops_per_sample")
    assert [r.environment["flops"]["source"] for r in (run, fifty, hundred)] == [
        "counted", "counted", "cache"]


def test_list_shows_case_options(flagbench) -> None:
    out = flagbench("list", "cases")
    assert out.returncode == 0
    assert "hidden=32" in out.stdout and "hidden width" in out.stdout


def test_case_metrics_are_stored_but_may_not_shadow_core_metrics() -> None:
    from datetime import datetime, timezone

    from flagbench.api.result import Metric, RunResult, Status
    from flagbench.api.spec import RunSpec

    now = datetime.now(timezone.utc)
    spec = RunSpec(vendor="cpu", case="tiny-mlp")
    ok = RunResult(spec, Status.FAILED, now, now, reason="x",
                   case_metrics=(Metric("accuracy_top1", 0.9, "ratio"),))
    assert Metric("accuracy_top1", 0.9, "ratio") in ok.metrics()
    clash = RunResult(spec, Status.FAILED, now, now, reason="x", setup_s=1.0,
                      case_metrics=(Metric("setup_s", 2.0, "s"),))
    with pytest.raises(ValueError, match="clashes"):
        clash.metrics()
