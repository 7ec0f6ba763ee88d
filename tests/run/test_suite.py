"""Suite files: a whole matrix from TOML, every key and value checked, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from flagbench.api.errors import FlagbenchError
from flagbench.api.plugins import Registry
from flagbench.run.plan import build_plan
from flagbench.run.suite import load_suite
from paths import ROOT

EXAMPLE = ROOT / "examples" / "suite.toml"


def test_example_suite_plans_its_matrix() -> None:
    suite = load_suite(EXAMPLE)
    req = suite.request
    assert req.vendors == ("cpu", "ort-cpu") and req.cases == ("resnet50",)
    assert req.batch_sizes == (1, 8) and req.rounds == 2 and req.tags == (("suite", "nightly-cpu"),)
    assert req.measure.target_ci == 0.01 and suite.timeout_s == 600 and suite.isolate
    specs = build_plan(req, Registry.discover())
    assert len(specs) == 2 * 2 * 2 * 2 * 2  # vendors × batch sizes × precisions × scenarios × rounds


def test_defaults_and_relative_weights(tmp_path: Path) -> None:
    (tmp_path / "w.pt").write_bytes(b"")
    path = tmp_path / "s.toml"
    path.write_text('[matrix]\nvendors = ["cpu"]\ncases = ["resnet50"]\n'
                    '[weights]\nresnet50 = "w.pt"\n[data]\nresnet50 = "val"\n[server]\np99-bound-ms = 20\n')
    suite = load_suite(path)
    assert suite.request.batch_sizes == (1,) and suite.request.precisions == ("fp32",)
    assert suite.request.weights == {"resnet50": str(tmp_path / "w.pt")}
    assert suite.request.data == {"resnet50": str(tmp_path / "val")}
    assert suite.request.p99_bound_s == pytest.approx(0.02)
    assert suite.timeout_s == 600 and suite.isolate


BASE = '[matrix]\nvendors = ["cpu"]\ncases = ["resnet50"]\n'

#: (suite text, what the one-line error must say). Every row was tried.
BAD_SUITES = [
    ("[matrix\n", "is not valid TOML"),
    ('[matrix]\ncases = ["resnet50"]\n', "matrix.vendors is required"),
    ('[matrix]\nvendors = ["cpu"]\n', "matrix.cases is required"),
    (BASE + "bogus = 1\n", "unknown key matrix.bogus; expected one of: vendors"),
    (BASE + "[measure]\nwarmpu = 1\n", "unknown key measure.warmpu"),
    (BASE + "[extras]\nx = 1\n", "unknown table [extras]"),
    ('[matrix]\nvendors = "cpu"\ncases = ["resnet50"]\n', "matrix.vendors: expected a list, got a string"),
    ('[matrix]\nvendors = []\ncases = ["resnet50"]\n', "matrix.vendors: must not be empty"),
    ('[matrix]\nvendors = ["cpu", 3]\ncases = ["resnet50"]\n', "matrix.vendors[1]: expected a string, got an integer"),
    ('[matrix]\nvendors = [""]\ncases = ["resnet50"]\n', "matrix.vendors[0]: must be a non-empty string"),
    (BASE + 'batch-sizes = [1, "two"]\n', "matrix.batch-sizes[1]: expected an integer, got a string"),
    (BASE + "batch-sizes = [1.5]\n", "matrix.batch-sizes[0]: expected an integer, got a number"),
    (BASE + "batch-sizes = [true]\n", "matrix.batch-sizes[0]: expected an integer, got a boolean"),
    (BASE + "batch-sizes = [0]\n", "batch size must be 1 or more"),
    (BASE + "rounds = 0\n", "rounds must be 1 or more"),
    (BASE + 'rounds = "2"\n', "matrix.rounds: expected an integer, got a string"),
    (BASE + '[measure]\nwarmup = "1s"\n', "measure.warmup: expected a number, got a string"),
    (BASE + "[measure]\nmin-time = 9\nmax-time = 3\n", "min-time (9 s) is above max-time (3 s)"),
    (BASE + "[measure]\ntarget-ci = 1.5\n", "target CI must be in [0, 1)"),
    (BASE + "[measure]\ntimeout = 0\n", "measure.timeout: must be above 0"),
    (BASE + "[measure]\nisolate = 1\n", "measure.isolate: expected true or false, got an integer"),
    (BASE + "[measure]\ncpu-tdp = -1\n", "CPU TDP must be above 0"),
    (BASE + "[server]\nfind-max-qps = true\n", "apply to --scenario server"),
    (BASE + "tags = 3\n", "unknown key matrix.tags"),
    (BASE + "[tags]\nteam = 3\n", "tags.team: expected a string, got an integer"),
    (BASE + '[tags]\nteam = "a\\u0000b"\n', "tags.team: must be a non-empty string without NUL"),
    (BASE + "measure = 3\n", "unknown key matrix.measure"),
    ('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\n[case-options.tiny-mlp]\nhidden = [8]\n',
     "case-options.tiny-mlp.hidden: expected a string, number or boolean, got a list"),
    ('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\n[case-options.tiny-mlp]\nwidth = 8\n',
     "case 'tiny-mlp' has no option 'width'"),
    ('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\n[case-options.tiny-mlp]\nhidden = "wide"\n',
     "case option hidden='wide': expected int"),
    ('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\n[case-options]\ntiny-mlp = 3\n',
     "case-options.tiny-mlp: expected a table, got an integer"),
    (BASE + "[case-options.tiny-mlp]\nhidden = 8\n", "names case 'tiny-mlp', which is not being run"),
    ("measure = 3\n" + BASE, "measure: expected a table, got an integer"),
    (BASE + "[case-options.resnet50]\nsize = 3\n", "case 'resnet50' has no option 'size'"),
    (BASE + "[case-options.bert]\nseq_len = 8\n", "names case 'bert', which is not being run"),
    (BASE + "[case-options]\nresnet50 = 3\n", "case-options.resnet50: expected a table"),
    (BASE + "[case-options.resnet50]\nx = [1]\n",
     "case-options.resnet50.x: expected a string, number or boolean, got a list"),
]


def test_case_options_from_a_suite(tmp_path: Path, plugin_site: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\n'
                    '[case-options.tiny-mlp]\nhidden = 8\nactivation = "gelu"\n')
    (spec,) = build_plan(load_suite(path).request, Registry.discover())
    assert dict(spec.options) == {"hidden": 8, "activation": "gelu"}


@pytest.mark.parametrize(("text", "message"), BAD_SUITES)
def test_bad_suites_are_refused_with_the_key(tmp_path: Path, text: str, message: str,
                                             plugin_site: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(FlagbenchError) as refused:
        suite = load_suite(path)
        build_plan(suite.request, Registry.discover())
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_missing_and_unreadable_suite(tmp_path: Path) -> None:
    with pytest.raises(FlagbenchError, match="no suite file at"):
        load_suite(tmp_path / "absent.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FlagbenchError, match="cannot read suite"):
        load_suite(tmp_path / "bin.toml")


def test_case_options_are_typed_values_checked_by_the_case(tmp_path: Path,
                                                            plugin_site: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\n'
                    '[case-options.tiny-mlp]\nhidden = 64\nactivation = "gelu"\n')
    (spec,) = build_plan(load_suite(path).request, Registry.discover())
    assert spec.options == (("activation", "gelu"), ("hidden", 64))
    path.write_text('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\n'
                    '[case-options.tiny-mlp]\nhidden = 1.5\n')
    with pytest.raises(FlagbenchError, match="hidden=1.5: expected int"):
        build_plan(load_suite(path).request, Registry.discover())
