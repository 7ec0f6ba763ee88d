"""Hostile values (issue 16, classes 3, 6 and 7): non-finite numbers, values the store cannot
hold, counts and files that would make flagbench hang or grow. Every row is refused with one
line and exit code 2 before anything is measured, and the database is left as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flagbench.api.contracts import Option
from flagbench.api.errors import FlagbenchError
from hostile_table import Row, refused, seed

RUN = ["run", "--vendor", "cpu", "--case", "tiny-mlp", "--no-isolate"]
BIG = str(2**64)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return seed(tmp_path / "results.db")


def _suite(tmp: Path, name: str, body: str) -> str:
    path = tmp / f"{name}.toml"
    path.write_text('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\n' + body)
    return str(path)


def test_non_finite_numbers_are_refused_everywhere(flagbench, db: Path, tmp_path: Path
                                                   ) -> None:
    """Class 3: every float option, on the command line and in a suite, and plugin options."""
    run = [*RUN, "--db", str(db)]
    server = [*run, "--scenario", "server", "--target-qps", "5"]
    rows = [Row([*run, f"--{opt}", value], f"Invalid value for '--{opt}': '{value}' is not a "
                "finite number")
            for opt in ("warmup", "min-time", "max-time", "target-ci", "cpu-tdp", "timeout")
            for value in ("nan", "inf", "-inf")]
    rows += [
        Row([*run, "--warmup", "1e999"], "'1e999' is not a finite number"),
        Row([*run, "--warmup", "NaN"], "'NaN' is not a finite number"),
        Row([*run, "--scenario", "server", "--target-qps", "nan"], "--target-qps"),
        Row([*run, "--scenario", "server", "--target-qps", "inf"], "--target-qps"),
        Row([*server, "--p99-bound-ms", "nan"], "--p99-bound-ms"),
        Row([*server, "--p99-bound-ms", "inf"], "--p99-bound-ms"),
        Row([*run, "--warmup", "ten"], "'ten' is not a number"),
        *(Row(["compare", "1", "2", "--db", str(db), "--fail-above", v],
              f"Invalid value for '--fail-above': '{v}' is not a finite number")
          for v in ("nan", "inf", "-inf", "NAN", "+inf", "infinity")),
    ]
    suite_rows = [("measure", "warmup", "nan"), ("measure", "min-time", "inf"),
                  ("measure", "max-time", "nan"), ("measure", "target-ci", "-inf"),
                  ("measure", "cpu-tdp", "+inf"), ("measure", "timeout", "inf"),
                  ("server", "target-qps", "nan"), ("server", "p99-bound-ms", "inf")]
    rows += [Row(["run", "--db", str(db), "--config",
                  _suite(tmp_path, f"{table}-{key}", f"[{table}]\n{key} = {value}\n")],
                 f"{table}.{key}: must be a finite number")
             for table, key, value in suite_rows]
    assert refused(flagbench, rows, db) == 39


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", float("nan"), float("inf")])
def test_float_plugin_options_refuse_non_finite_values(raw: str | float) -> None:
    """Class 3, plugin options (no installed plugin declares a float option): 5 rows."""
    with pytest.raises(FlagbenchError, match="must be a finite number"):
        Option(1.0, "a float option", minimum=0.0, maximum=10.0).parse("scale", raw)


def test_values_the_store_cannot_hold_are_refused(flagbench, db: Path, tmp_path: Path
                                                  ) -> None:
    """Class 6: too big for the columns, not UTF-8, NUL characters; refused before any run."""
    run = [*RUN, "--db", str(db)]
    rows = [
        Row([*run, "--batch-size", BIG], "batch size must be at most 2147483647"),
        Row([*run, "--batch-size", str(2**31)], "batch size must be at most 2147483647"),
        Row([*run, "--batch-size", f"1,{BIG}"], "batch size must be at most"),
        Row([*run, "--tag", "commit=\udcff\udcfe"], "argument"),
        Row([*run, "--tag", "\udce9t\udce9=1"], "is not valid UTF-8"),
        Row([*run, "--tag", "k=a\x00b"], "holds a NUL character"),
        Row([*run, "--weights", str(tmp_path / "w\udcff.pt")], "is not valid UTF-8"),
        Row([*run, "-o", f"hidden={BIG}"], "beyond a 64-bit integer"),
        Row(["run", "--vendor", "cuda", "--case", "tiny-mlp", "--db", str(db),
             "-O", f"device={BIG}"], "vendor option device"),
        Row([*run, "-o", "activation=re\udcfflu"], "is not valid UTF-8"),
        Row(["report", "--db", str(db), "--tag", "k=\udcff"], "is not valid UTF-8"),
        Row(["history", "--db", str(db), "--vendor", "cp\udcffu"], "is not valid UTF-8"),
        Row(["show", BIG, "--db", str(db)], "Invalid value for 'RUN_ID'"),
        Row(["show", "0", "--db", str(db)], "Invalid value for 'RUN_ID'"),
        Row(["history", "--db", str(db), "--limit", BIG], "Invalid value for '--limit'"),
        Row(["compare", BIG, "1", "--db", str(db)], "run ids are 1 to 2147483647"),
        Row(["compare", f"run:1,{BIG}", "2", "--db", str(db)], "run ids are 1 to"),
        Row([*RUN], "is not valid UTF-8", env={"FLAGBENCH_DB": str(tmp_path / "r\udcff.db")}),
        Row(["run", "--db", str(db), "--config",
             _suite(tmp_path, "big-batch", f"batch-sizes = [{2**31}]\n")],
            "batch size must be at most"),
        Row(["run", "--db", str(db), "--config",
             _suite(tmp_path, "huge-batch", f"batch-sizes = [{2**63 - 1}]\n")],
            "batch size must be at most"),
        Row(["run", "--db", str(db), "--config",
             _suite(tmp_path, "huge-option", f"[case-options.tiny-mlp]\nhidden = {2**64}\n")],
            "case option hidden=18446744073709551616: beyond a 64-bit integer"),
        Row(["run", "--db", str(db), "--config",
             _suite(tmp_path, "nul-tag", '[tags]\nk = "a\\u0000b"\n')], "NUL characters"),
        Row(["run", "--db", str(db), "--config",
             _suite(tmp_path, "nul-data", '[data]\ntiny-mlp = "d\\u0000"\n')], "NUL"),
    ]
    assert refused(flagbench, rows, db) == 23


def _loop_data(tmp: Path) -> dict[str, Path]:
    """ImageFolder trees with a link loop, a link back to the root, a FIFO for an image."""
    made = {}
    for name in ("loop", "to-root", "fifo", "dangling"):
        root = tmp / f"data-{name}"
        (root / "cat" / "sub").mkdir(parents=True)
        (root / "cat" / "a.png").write_bytes(b"")
        made[name] = root
    os.symlink("..", made["loop"] / "cat" / "sub" / "again")
    os.symlink(made["to-root"], made["to-root"] / "cat" / "up")
    os.mkfifo(made["fifo"] / "cat" / "sub" / "b.png")
    os.symlink(tmp / "absent.png", made["dangling"] / "cat" / "c.png")
    return made


def test_counts_links_and_special_files_never_hang(flagbench, db: Path, tmp_path: Path
                                                   ) -> None:
    """Class 7: bounded counts and durations, link loops, FIFOs and devices for files."""
    run = [*RUN, "--db", str(db)]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.toml"
    with open(huge, "wb") as f:
        f.truncate(2 << 20)  # sparse: 2 MiB of nothing
    data = _loop_data(tmp_path)
    many = ",".join(str(i) for i in range(1, 20_002))
    resnet = ["run", "--vendor", "cpu", "--case", "resnet50", "--db", str(db)]
    rows = [
        Row([*run, "--rounds", "1000000000"], "rounds must be at most 1000"),
        Row([*run, "--rounds", BIG], "rounds must be at most 1000"),
        Row(["run", "--db", str(db), "--config",
             _suite(tmp_path, "rounds", "rounds = 1000000000\n")], "rounds must be at most"),
        Row([*run, "--batch-size", many], "20001 batch sizes: at most 10000 runs"),
        Row([*run, "--batch-size", ",".join(map(str, range(1, 101))), "--rounds", "101"],
            "the matrix holds 10100 runs; at most 10000"),
        Row([*run, "--min-iters", "1000000000"], "min-iters must be at most 1000000"),
        Row([*run, "--warmup", "1e9"], "warm-up must be at most 86400 s"),
        Row([*run, "--max-time", "1e300"], "max-time must be at most 86400 s"),
        Row([*run, "--timeout", "1e12"], "timeout must be at most 86400 s"),
        Row([*run, "--scenario", "server", "--target-qps", "1e300"],
            "--target-qps must be at most 1e+06 requests/s"),
        Row(["run", "--db", str(db), "--config", _suite(
            tmp_path, "qps", 'scenarios = ["server"]\n[server]\ntarget-qps = 1e9\n')],
            "--target-qps must be at most"),
        Row(["run", "--db", str(db), "--config",
             _suite(tmp_path, "timeout", "[measure]\ntimeout = 1e12\n")],
            "measure.timeout: must be at most 86400 s"),
        Row([*resnet, "--data", str(data["loop"])], "a symbolic-link loop"),
        Row([*resnet, "--data", str(data["to-root"])], "a symbolic-link loop"),
        Row([*resnet, "--data", str(data["fifo"])], "b.png is not a regular file"),
        Row([*resnet, "--data", str(data["dangling"])], "c.png is not a regular file"),
        Row([*run, "--weights", str(fifo)], "does not exist or is not a file"),
        Row([*run, "--weights", "/dev/zero"], "does not exist or is not a file"),
        Row(["run", "--db", str(db), "--config", str(fifo)], "is not a regular file"),
        Row(["run", "--db", str(db), "--config", "/dev/zero"], "is not a regular file"),
        Row(["run", "--db", str(db), "--config", str(tmp_path)], "is not a regular file"),
        Row(["run", "--db", str(db), "--config", str(huge)], "at most 1048576 are read"),
        Row([*RUN, "--db", str(fifo)], "is not a regular file"),
        Row([*RUN, "--db", "/dev/null"], "is not a regular file"),
        Row(["history", "--db", str(fifo)], "is not a regular file"),
        Row(["report", "--db", str(db), "--out", str(fifo)], "is not a regular file"),
        Row(["export", "--db", str(db), "--out", "/dev/null"], "is not a regular file"),
    ]
    assert refused(flagbench, rows, db) == 27


def test_a_fifo_in_the_spool_is_listed_not_waited_on(flagbench, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    os.mkfifo(spool / "planted.json")
    monkeypatch.setenv("FLAGBENCH_SPOOL", str(spool))
    out = flagbench("spool")
    assert "planted.json" in out.stdout + out.stderr
    assert "not a regular file" in out.stdout + out.stderr
