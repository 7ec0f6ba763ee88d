"""The CLI end to end, in child processes, against temporary databases."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from flagbench.store import Store
from paths import PLUGIN_SITE


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_resnet50_and_tiny_case_then_report(flagbench, quick, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    out = flagbench("run", "--vendor", "cpu", "--case", "tiny-mlp,resnet50", "--db", str(db),
                    "--tag", "purpose=<script>alert(1)</script>", *quick, "--target-ci", "0.01")
    assert out.returncode == 0, out.stderr
    assert "cpu × resnet50 bs1 fp32: ok" in out.stdout
    assert "results" in out.stdout and "p50 ms" in out.stdout

    store = Store.open(str(db), create=False)
    runs = {r.case: r for r in store.runs()}
    assert set(runs) == {"tiny-mlp", "resnet50"}
    r50 = runs["resnet50"]
    assert r50.status == "ok" and r50.stop_rule in {"ci_reached", "max_time"}
    if r50.stop_rule == "ci_reached":  # the minimums held
        assert r50.metric("iterations") >= 5 and r50.metric("loop_s") >= 0.2
    else:  # a loaded machine can hit the time limit first
        assert r50.metric("loop_s") >= 1.0
    assert len(store.samples(r50.id)) == r50.metric("iterations")
    assert r50.metric("latency_p50_s") is None  # the median is named latency_median_s
    assert 0 < r50.metric("latency_median_s") <= r50.metric("latency_p99_s")
    assert r50.metric("fidelity_cosine") == pytest.approx(1.0)
    assert r50.metric("fidelity_top1_agreement") == 1.0
    assert r50.metric("flops_per_sample") == pytest.approx(8.18e9, rel=0.01)
    assert r50.actual["threads"] == torch.get_num_threads()
    assert r50.environment["versions"]["torch"] == torch.__version__
    assert r50.tags == {"purpose": "<script>alert(1)</script>"}
    store.close()

    html = tmp_path / "r.html"
    rep = flagbench("report", "--db", str(db), "--out", str(html))
    assert rep.returncode == 0, rep.stderr
    page = html.read_text()
    umask = os.umask(0)
    os.umask(umask)
    assert html.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's private 0600
    assert page.count('<tr class="run"') == 2
    assert "resnet50" in page and "tiny-mlp" in page
    assert "<th>fidelity_top1_agreement</th>" in page and "cpu (baseline)" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http://" not in page and "https://" not in page  # self-contained

    hist = flagbench("history", "--db", str(db))
    assert hist.returncode == 0 and "resnet50" in hist.stdout and "tiny-mlp" in hist.stdout
    show = flagbench("show", str(r50.id), "--db", str(db))
    assert show.returncode == 0 and "latency_median_s" in show.stdout
    assert "cpu_model" in show.stdout


def test_unavailable_and_crashing_vendors_do_not_stop_the_matrix(flagbench, quick,
                                                                tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    out = flagbench("run", "--vendor", "absent-hw,crashing,cpu", "--case", "tiny-mlp",
                    "--db", str(db), *quick)
    assert out.returncode == 1, out.stderr  # a failed run makes the exit code non-zero
    store = Store.open(str(db), create=False)
    runs = {r.vendor: r for r in store.runs()}
    store.close()
    assert runs["absent-hw"].status == "skipped"
    assert runs["absent-hw"].reason == "no AbsentHW accelerator found (driver not loaded)"
    assert runs["crashing"].status == "failed"
    assert "fake compiler crashed" in runs["crashing"].reason
    assert runs["cpu"].status == "ok"
    html = tmp_path / "m.html"
    assert flagbench("report", "--db", str(db), "--out", str(html)).returncode == 0
    page = html.read_text()
    assert "no AbsentHW accelerator found" in page and "status-failed" in page


def test_weights_are_loaded_and_recorded(flagbench, quick, tmp_path: Path) -> None:
    sys.path.insert(0, str(PLUGIN_SITE))
    try:
        from flagbench_testplugins.tiny import TinyMlpCase
    finally:
        sys.path.pop(0)
    model = TinyMlpCase().build_model()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(-2.0)
    ckpt = tmp_path / "tiny.pt"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    db = tmp_path / "w.db"
    out = flagbench("run", "--vendor", "cpu", "--case", "tiny-mlp", "--weights", str(ckpt),
                    "--db", str(db), *quick)
    assert out.returncode == 0, out.stderr
    store = Store.open(str(db), create=False)
    (run,) = store.runs()
    store.close()
    assert run.spec["weights"] == str(ckpt)
    assert run.environment["weights"]["sha256"] == _digest(ckpt)


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding one run, to check that bad input leaves it unchanged."""
    db = tmp_path_factory.mktemp("seeded") / "seeded.db"
    Store.open(str(db)).close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from alembic_version").fetchone() == (1,)
    return db


def _bad_inputs(tmp: Path, db: Path) -> list[tuple[list[str], str]]:
    text = tmp / "notes.txt"
    text.write_text("not a database\n")
    bad_ckpt = tmp / "bad.pt"
    bad_ckpt.write_bytes(b"garbage")
    wrong_ckpt = tmp / "wrong.pt"
    torch.save({"fc.weight": torch.zeros(3, 3)}, wrong_ckpt)
    flat = tmp / "flat"
    flat.mkdir()
    (flat / "img.png").write_bytes(b"")
    empty_class = tmp / "empty-class"
    (empty_class / "cat").mkdir(parents=True)
    run = ["run", "--db", str(db)]
    suite = tmp / "suite.toml"
    suite.write_text('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\n[tags]\nsuite = "s"\n')
    bad_suite = tmp / "bad-suite.toml"
    bad_suite.write_text('[matrix]\nvendors = ["cpu"]\ncases = ["tiny-mlp"]\nbatch = [1]\n')
    secret_pg = "postgresql+psycopg://bench:S3cret-pw@127.0.0.1:1/flagbench"
    return [
        ([*run, "--vendor", "cpux", "--case", "resnet50"], "unknown vendor 'cpux'; did you mean cpu"),
        ([*run, "--vendor", "cpu", "--case", "resnet5"], "did you mean resnet50"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--batch-size", "0"], "batch size must be 1"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--batch-size", "-4"], "batch size must be 1"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--batch-size", "two"], "'two' is not valid"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--batch-size", "1,,2"], "empty items"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--min-time", "9", "--max-time", "3"],
         "min-time (9 s) is above max-time (3 s)"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--precision", "fp8"], "unknown precision"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--weights", str(tmp / "nope.pt")],
         "does not exist"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--weights", str(bad_ckpt)],
         "could not be loaded"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--weights", str(wrong_ckpt)],
         "does not fit the model"),
        ([*run, "--vendor", "broken-import", "--case", "resnet50"], "is broken"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--tag", "novalue"], "expected key=value"),
        ([*run, "--vendor", "cpu,cpu", "--case", "resnet50"], "listed twice"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--scenario", "server"], "needs --target-qps"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--target-qps", "5"], "apply to --scenario server"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--scenario", "offline"], "unknown scenario"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--rounds", "0"], "rounds must be 1"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--timeout", "0"], "timeout must be above 0"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--cpu-tdp", "-5"], "CPU TDP must be above 0"),
        ([*run, "--vendor", "cpu", "--case", "tiny-mlp", "-o", "hidden=wide"], "expected int"),
        ([*run, "--vendor", "cpu", "--case", "tiny-mlp", "-o", "hidden=0"], "must be ≥ 1"),
        ([*run, "--vendor", "cpu", "--case", "tiny-mlp", "-o", "activation=tanh"], "choose from relu, gelu"),
        ([*run, "--vendor", "cpu", "--case", "tiny-mlp", "-o", "depth=3"], "has no option 'depth' (its options: activation, hidden)"),
        ([*run, "--vendor", "cpu", "--case", "tiny-mlp", "-o", "hidden"], "expected [CASE.]KEY=VALUE"),
        ([*run, "--vendor", "cpu", "--case", "tiny-mlp,resnet50", "-o", "hidden=8"], "give --case-option as CASE.KEY=VALUE"),
        ([*run, "--vendor", "cpu", "--case", "tiny-mlp", "-o", "bert.seq_len=8"], "names case 'bert', which is not being run"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "-o", "size=8"], "has no option 'size' (its options: none)"),
        ([*run, "--vendor", "cpu", "--case", "tiny-mlp", "-o", "hidden=8", "-o", "hidden=9"], "given twice"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--data", str(tmp / "nope")], "no such directory"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--data", str(text)], "no such directory"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--data", str(flat)], "expected one sub-folder per class"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--data", str(empty_class)], "class folder 'cat' holds no images"),
        ([*run, "--vendor", "cpu", "--case", "digits", "--data", str(flat)], "case 'digits' takes no --data"),
        ([*run, "--vendor", "cpu", "--case", "tiny-mlp", "--data", f"resnet50={flat}"], "--data names case 'resnet50', which is not being run"),
        ([*run, "--vendor", "cpu", "--case", "tiny-mlp,resnet50", "--data", str(flat)], "give --data as CASE=PATH"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--data", str(flat), "--data", str(flat)], "--data given twice"),
        ([*run, "--vendor", "cpu", "--case", "gemm", "-o", "size=0"], "must be ≥ 1"),
        ([*run, "--vendor", "cpu", "--case", "membw", "-o", "size_mb=big"], "expected int"),
        ([*run, "--vendor", "cpu", "--case", "bert", "-o", "seq_len=513"], "seq_len=513: must be ≤ 512"),
        ([*run, "--vendor", "cpu", "--case", "bert", "-o", "seq_len=0"], "seq_len=0: must be ≥ 1"),
        ([*run, "--vendor", "cpu", "--case", "gpt-decode", "-o", "new_tokens=1"], "new_tokens=1: must be ≥ 2"),
        ([*run, "--vendor", "cpu", "--case", "gpt-decode", "-o", "prompt_len=1000", "-o", "new_tokens=100"], "prompt_len + new_tokens = 1100 exceeds GPT-2's 1024 positions"),
        ([*run, "--vendor", "cpu", "--case", "gpt-decode", "--scenario", "server", "--target-qps", "1", "--p99-bound-ms", "9", "--find-max-qps"], "--find-max-qps is not supported for generation cases"),
        ([*run, "--vendor", "cpu"], "Missing option '--case'"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--bogus"], "No such option"),
        (["run", "--vendor", "cpu", "--case", "resnet50", "--db", str(tmp / "no" / "x.db")],
         "does not exist"),
        (["run", "--vendor", "cpu", "--case", "tiny-mlp", "--db", str(text)],
         "is not a SQLite database"),
        (["report", "--db", str(tmp / "absent.db")], "no database at"),
        (["report", "--db", str(db), "--out", str(tmp / "no" / "r.html")], "does not exist"),
        (["show", "999", "--db", str(db)], "no run with id 999"),
        (["history", "--db", str(db), "--limit", "0"], "--limit"),
        (["run", "--db", str(db)], "Missing option '--vendor' (or give --config SUITE.toml)"),
        ([*run, "--vendor", "cpu", "--case", "resnet50", "--tag", "k" * 129 + "=v"], "longer than 128 characters"),
        ([*run, "--config", str(tmp / "absent.toml")], "no suite file at"),
        ([*run, "--config", str(text)], "is not valid TOML"),
        ([*run, "--config", str(bad_suite)], "bad-suite.toml: unknown key matrix.batch; expected one of"),
        ([*run, "--config", str(suite), "--vendor", "cpu"], "--vendor cannot be combined with --config"),
        ([*run, "--config", str(suite), "--min-time", "1"], "--min-time cannot be combined with --config"),
        ([*run, "--config", str(suite), "--no-isolate"], "--no-isolate cannot be combined with --config"),
        ([*run, "--config", str(suite), "--tag", "suite=x"], "--tag 'suite' is also set in"),
        (["run", "--vendor", "cpu", "--case", "tiny-mlp", "--db", secret_pg],
         "cannot use database postgresql+psycopg://bench:***@127.0.0.1:1/flagbench: connection failed"),
        (["history", "--db", secret_pg], "Connection refused"),
        (["report", "--db", "mysql://bench:S3cret-pw@db.example/flagbench"],
         "cannot use database mysql://bench:***@db.example/flagbench"),
        (["spool", "--db", str(db)], "--db applies to --replay only"),
        (["spool", "--replay", "--db", str(text)], "is not a SQLite database"),
        (["report", "--db", str(db), "--since", "garbage"], "--since 'garbage': expected an ISO date"),
        (["report", "--db", str(db), "--until", "3x"], "--until '3x'"),
        (["report", "--db", str(db), "--since", "2026-12-01", "--until", "2026-11-01"], "--since must be before --until"),
        (["report", "--db", str(db), "--tag", "novalue"], "expected key=value"),
        (["report", "--db", str(db), "--vendor", "cpu,,cuda"], "empty items"),
        (["compare", "1", "gpu:1", "--db", str(db)], "unknown kind 'gpu'"),
        (["compare", "run:x", "2", "--db", str(db)], "run ids must be integers"),
        (["compare", "tag:a=b", "tag:a=c", "--db", str(db)], "matches no run"),
        (["compare", "1", "2", "--db", str(db), "--fail-above", "-5"], "--fail-above must be 0 or more"),
        (["compare", "1", "--db", str(db)], "Missing argument 'B'"),
        (["compare", "1", "2", "--db", str(tmp / "absent.db")], "no database at"),
        (["export", "--db", str(db), "--format", "xml"], "Invalid value for '--format'"),
        (["export", "--db", str(db), "--out", str(tmp / "no" / "x.csv")], "does not exist"),
        (["export", "--db", str(db), "--since", "soon"], "--since 'soon'"),
    ]


def test_bad_input_is_one_line_exit_2_and_leaves_the_database(flagbench, seeded_db: Path,
                                                              tmp_path: Path) -> None:
    before = _digest(seeded_db)
    for args, message in _bad_inputs(tmp_path, seeded_db):
        out = flagbench(*args)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2, (args, out.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, out.stderr)
        assert message in lines[0], (args, lines[0])
        assert "Traceback" not in out.stderr
        assert "S3cret-pw" not in out.stdout + out.stderr
    assert _digest(seeded_db) == before
    assert not (tmp_path / "absent.db").exists()


def test_suite_run_and_store_commands_on_both_databases(flagbench, db_url: str,
                                                       tmp_path: Path) -> None:
    suite = tmp_path / "suite.toml"
    suite.write_text(
        '[matrix]\nvendors = ["cpu", "absent-hw"]\ncases = ["tiny-mlp"]\nbatch-sizes = [1, 2]\n'
        '[measure]\nwarmup = 0\nmin-time = 0.1\nmax-time = 0.5\nmin-iters = 5\n'
        'isolate = false\n[tags]\nsuite = "smoke"\n')
    out = flagbench("run", "--config", str(suite), "--tag", "host=ci", "--db", db_url)
    assert out.returncode == 0, out.stderr
    assert "4 run(s) →" in out.stdout
    store = Store.open(db_url, create=False)
    runs = store.runs()
    store.close()
    assert sorted((r.vendor, r.batch_size, r.status) for r in runs) == [
        ("absent-hw", 1, "skipped"), ("absent-hw", 2, "skipped"), ("cpu", 1, "ok"), ("cpu", 2, "ok")]
    assert all(r.tags == {"suite": "smoke", "host": "ci"} for r in runs)
    assert runs[0].environment.get("isolation") != "child process"  # isolate = false was used
    html = tmp_path / "r.html"
    rep = flagbench("report", "--db", db_url, "--out", str(html))
    hist = flagbench("history", "--db", db_url)
    show = flagbench("show", str(max(r.id for r in runs)), "--db", db_url)
    for done in (rep, hist, show):
        assert done.returncode == 0, done.stderr
    assert html.read_text().count('<tr class="run"') == 4
    assert "tiny-mlp" in hist.stdout and "absent-hw" in show.stdout
    if "://" in db_url:  # the PostgreSQL URL carries a password: it is never shown
        password = db_url.split(":")[2].split("@")[0]
        for text in (out.stdout, rep.stdout, hist.stdout, show.stdout, html.read_text()):
            assert password not in text
        assert "flagbench:***@127.0.0.1" in out.stdout


def test_bad_postgresql_databases_are_refused_untouched(flagbench, pg_cluster,
                                                       quick) -> None:
    from sqlalchemy import create_engine, text

    url = pg_cluster.create_database()
    name = url.rsplit("/", 1)[1]
    wrong = pg_cluster.url(name, password="Wr0ng-pw")
    Store.open(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '9999'"))
    cases = [
        (["run", "--vendor", "cpu", "--case", "tiny-mlp", "--db", wrong, *quick],
         "password authentication failed"),
        (["history", "--db", pg_cluster.url("absent_db")], 'database "absent_db" does not exist'),
        (["run", "--vendor", "cpu", "--case", "tiny-mlp", "--db", url, *quick],
         "was written by a newer flagbench (schema 9999); upgrade flagbench"),
        (["report", "--db", url], "was written by a newer flagbench"),
    ]
    for args, message in cases:
        out = flagbench(*args)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1, (args, out.stderr)
        assert message in lines[0] and lines[0].startswith("error: "), (args, lines[0])
        assert "Wr0ng-pw" not in out.stderr + out.stdout
    with engine.connect() as conn:  # left as it was
        assert conn.execute(text("select version_num from alembic_version")).scalar_one() == "9999"
        assert conn.execute(text("select count(*) from runs")).scalar_one() == 0
    engine.dispose()


def test_unwritable_database_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    import os

    from flagbench import cli

    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path
                        else real_access(p, mode))
    monkeypatch.setattr(sys, "argv", ["flagbench", "run", "--vendor", "cpu", "--case",
                                      "resnet50", "--db", str(tmp_path / "x.db")])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: directory {tmp_path} for the database is not writable")
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "cases"]])
def test_startup_commands_do_not_import_torch(args: list[str]) -> None:
    code = (
        "import sys; from flagbench.cli import cli; "
        f"rc = cli.main({args!r}, standalone_mode=False); "
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "NO-TORCH"


def test_list_shows_broken_plugins_without_failing(flagbench) -> None:
    out = flagbench("list")
    assert out.returncode == 0, out.stderr
    assert "broken-import" in out.stdout and "broken" in out.stdout
    assert "tiny-mlp" in out.stdout and "resnet50" in out.stdout and "cpu" in out.stdout


def test_python_dash_m_and_version(flagbench) -> None:
    out = flagbench("--version")
    assert out.returncode == 0 and "flagbench" in out.stdout


def test_env_lists_host_and_every_vendor_with_reasons(flagbench) -> None:
    import json

    out = flagbench("env", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["host"]["logical_cores"] >= 1 and data["host"]["cpu_model"]
    vendors = data["vendors"]
    assert vendors["cpu"]["available"] and vendors["cpu"]["versions"]["torch"] == torch.__version__
    assert vendors["ort-cpu"]["available"] and "onnxruntime" in vendors["ort-cpu"]["versions"]
    assert not vendors["ttbuda"]["available"] and "pybuda" in vendors["ttbuda"]["reason"]
    assert vendors["broken-import"]["reason"].startswith("broken plugin: failed to load")
    assert vendors["raising-probe"]["reason"] == (
        "probe raised OSError: device node /dev/fake0 vanished")
    table = flagbench("env")
    assert table.returncode == 0 and "available" in table.stdout and "ort-cpu" in table.stdout
