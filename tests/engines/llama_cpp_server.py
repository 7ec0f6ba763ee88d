"""llama-cpp-python's OpenAI-compatible server, started on 127.0.0.1 for a test: a real engine
behind flagbench's serving client, on a model the test wrote (``tiny_gguf``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

#: Loading a 120 kB model takes a second; the rest is Python importing FastAPI and the
#: library, slow on a loaded CI runner.
START_TIMEOUT_S = 60.0


def require_engine() -> None:
    """Skip when llama-cpp-python's server or gguf is not installed, except on CI (``CI=true``),
    which installs them and must not pass by skipping."""
    missing = []
    for module in ("gguf", "llama_cpp.server.app"):  # the server imports the library
        try:
            __import__(module)
        except ImportError as exc:  # a library that is there but broken shows its traceback
            missing.append(f"{module} ({exc})")
    if not missing:
        return
    reason = ("the real engine is not installed: pip install gguf 'llama-cpp-python[server]'; "
              f"cannot import {', '.join(missing)}")
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the real-engine test", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaCppServer:
    """``python -m llama_cpp.server`` on ``model``, its log in ``log``; ``url`` once ready."""

    def __init__(self, model: Path, log: Path, alias: str = "tiny-gpt2") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        # --interrupt_requests false: its default ends a stream early when another request
        # queues, which would turn the server scenario's overlap into truncated answers.
        # One thread: the model is tiny and the client shares the runner's few cores.
        args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                "--model_alias", alias, "--host", "127.0.0.1", "--port", str(self.port),
                "--interrupt_requests", "false", "--n_ctx", "256", "--n_threads", "1",
                "--n_threads_batch", "1", "--verbose", "false"]
        with log.open("wb") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> list[str]:
        """Poll ``GET /v1/models`` until it lists a model; the ids, or a failure with the log."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {self.process.returncode}:\n"
                            f"{self.tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{self.url}/v1/models", timeout=2) as response:
                    return [m["id"] for m in json.load(response)["data"]]
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.close()
        pytest.fail(f"llama_cpp.server did not answer /v1/models within {timeout_s:g} s:\n"
                    f"{self.tail()}", pytrace=False)

    def tail(self, lines: int = 30) -> str:
        """The last lines of the server's log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
