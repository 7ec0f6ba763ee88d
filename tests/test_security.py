"""Security properties checked over the source tree, so a later change cannot quietly undo them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
SOURCES = [p for d in ("flagbench", "vendors", "cases", "reports", "benchmarks", "examples")
           for p in sorted((ROOT / d).rglob("*.py"))]


def _calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _name(call: ast.Call) -> str:
    return ast.unparse(call.func)


def test_sources_were_found() -> None:
    assert len(SOURCES) > 20 and any(p.name == "weights.py" for p in SOURCES)


def test_no_shell_anywhere() -> None:
    offenders = []
    for path in SOURCES:
        for call in _calls(path):
            if any(k.arg == "shell" and not (isinstance(k.value, ast.Constant)
                                             and k.value.value is False) for k in call.keywords):
                offenders.append(f"{path}:{call.lineno} {_name(call)}(shell=...)")
            if _name(call) in {"os.system", "os.popen", "subprocess.getoutput",
                               "subprocess.getstatusoutput"}:
                offenders.append(f"{path}:{call.lineno} {_name(call)}")
    assert offenders == []


def test_torch_load_always_weights_only() -> None:
    loads = [(path, call) for path in SOURCES for call in _calls(path)
             if _name(call).endswith("torch.load")]
    assert loads, "torch.load is used somewhere (weights.py); the check must see it"
    for path, call in loads:
        weights_only = [k for k in call.keywords if k.arg == "weights_only"]
        assert weights_only and isinstance(weights_only[0].value, ast.Constant) \
            and weights_only[0].value.value is True, f"{path}:{call.lineno}"


def test_no_pickle_or_eval_on_stored_data() -> None:
    banned = {"pickle.load", "pickle.loads", "eval", "exec", "yaml.load"}
    found = [f"{p}:{c.lineno} {_name(c)}" for p in SOURCES for c in _calls(p)
             if _name(c) in banned]
    assert found == []


def test_plugins_load_only_from_installed_entry_points() -> None:
    """Discovery reads entry points and nothing else: no import by a name from the
    environment, a path or a configuration file."""
    plugins = ROOT / "flagbench" / "api" / "plugins.py"
    names = {_name(c) for c in _calls(plugins)}
    assert "entry_points" in names
    assert not names & {"importlib.import_module", "__import__", "import_module",
                        "spec_from_file_location", "exec_module"}
    assert "os.environ" not in plugins.read_text() and "getenv" not in plugins.read_text()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        if path.name != "plugins.py":
            assert "entry_points(" not in text or "examples" in str(path), path
