"""A run's child when its parent is gone (issue 16, class 11): it exits quietly, with code 0
and no traceback, at its next message (the mechanism, without killing a real parent)."""

from __future__ import annotations

from typing import Any

import pytest

from flagbench.run import child


class _GoneParent:
    """The child's end of a pipe whose reader was SIGKILLed."""

    def send(self, message: Any) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("where", ["phase", "result"])
def test_child_exits_quietly_when_its_parent_is_gone(where: str,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    exits: list[int] = []

    def fake_execute(registry: Any, spec: Any, environment: Any, phase: Any, how: str) -> str:
        if where == "phase":
            phase("warmup", "")
        return "a result"

    def fake_exit(code: int) -> None:
        exits.append(code)

    monkeypatch.setattr(child, "_quiet_stdout", lambda: None)
    monkeypatch.setattr(child, "execute", fake_execute)
    monkeypatch.setattr(child.Registry, "discover", staticmethod(lambda: None))
    monkeypatch.setattr(child.os, "_exit", fake_exit)
    monkeypatch.setattr(child.signal, "signal", lambda *a: None)
    child.child_main(None, {}, _GoneParent())  # type: ignore[arg-type]
    assert exits == [0]
    assert "Traceback" not in capfd.readouterr().err
