"""Shared fixtures: small real objects (a tiny case, temporary databases), no mocks."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pg_server import PgCluster, find_binaries

PLUGIN_SITE = Path(__file__).parent / "plugin_site"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep ONNX exports of the tests out of the user's cache (children inherit the env)."""
    os.environ["FLAGBENCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(autouse=True)
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private spool per test, never the user's (children inherit the env)."""
    path = tmp_path / "spool"
    monkeypatch.setenv("FLAGBENCH_SPOOL", str(path))
    return path


def _postgres_or_skip() -> Path:
    bindir = find_binaries()
    if bindir is None:
        reason = "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL variants", pytrace=False)
        pytest.skip(reason)
    return bindir


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One PostgreSQL server for the session; skipped without the binaries, except on CI."""
    cluster = PgCluster(_postgres_or_skip())
    yield cluster
    cluster.remove()


@pytest.fixture
def own_pg_cluster() -> Iterator[PgCluster]:
    """A PostgreSQL server of this test's own, which it may stop and start."""
    cluster = PgCluster(_postgres_or_skip())
    yield cluster
    cluster.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: a SQLite file, then a database on the test PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "results.db")
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()


@pytest.fixture
def plugin_site(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install the test plugins (a tiny case and broken plugins) for in-process discovery."""
    monkeypatch.syspath_prepend(str(PLUGIN_SITE))
    return PLUGIN_SITE


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a fresh SQLite database."""
    return tmp_path / "results.db"


def _flagbench_process(*args: str, env: dict[str, str] | None = None,
                       plugins: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.pop("FLAGBENCH_DB", None)
    if plugins:
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PLUGIN_SITE), full_env.get("PYTHONPATH", "")) if p
        )
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "flagbench", *args],
        capture_output=True, text=True, env=full_env, timeout=600,
    )


def _flagbench_in_process(*args: str, env: dict[str, str] | None = None,
                          plugins: bool = True) -> subprocess.CompletedProcess[str]:
    """``python -m flagbench ARGS`` without the interpreter: ``main()`` in this process with
    the same argv, environment, exit code and output. A run's child processes (isolation)
    are real and inherit the environment and the plugin path, as they would from the CLI."""
    if env and "PYTHONPATH" in env:  # a path for this process's imports: only a new one sees it
        return _flagbench_process(*args, env=env, plugins=plugins)
    from flagbench.cli.main import main

    saved_env, saved_path, saved_argv = dict(os.environ), list(sys.path), sys.argv
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    out, err = io.StringIO(), io.StringIO()
    os.environ.pop("FLAGBENCH_DB", None)
    os.environ.update(env or {})
    if plugins:
        sys.path.insert(0, str(PLUGIN_SITE))
    sys.argv = ["flagbench", *args]
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as done:
                code = done.code
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path
        sys.argv = saved_argv
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(["flagbench", *args], returncode, out.getvalue(),
                                       err.getvalue())


@pytest.fixture
def flagbench() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real CLI as a user would (test plugins installed), in this process: a new
    interpreter per command would cost start-up and imports and test nothing more."""
    return _flagbench_in_process


@pytest.fixture
def flagbench_process() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real CLI in a child process, for tests of what only a process shows."""
    return _flagbench_process


@pytest.fixture
def quick() -> list[str]:
    """Measurement options that keep test runs short: stopped at the minimums (the CI target
    waits for 50 effective timings, seconds of a slow model; tests of that path add
    --target-ci), measured in the CLI's own process (a child per run would cost a torch
    import, often torch._dynamo's too, and only the isolation tests test isolation: they
    add --isolate)."""
    return ["--warmup", "0.05", "--min-time", "0.2", "--max-time", "1", "--min-iters", "5",
            "--target-ci", "0", "--no-isolate"]
