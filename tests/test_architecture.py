"""Structure facts, measured: the `pamnet` import graph has no cycle (module-level and
function-level imports alike), every module imports in a fresh interpreter in dependency
order, and no module is over 400 lines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "pamnet"
MAX_LINES = 400

# Modules allowed past MAX_LINES, each with its reason.
LONG_OK: dict[str, str] = {
    "pamnet/nn/_sbf_forms.py": "generated table of the spherical basis (9 x 9 closed forms)",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    return {module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The pamnet modules that `name` imports anywhere in its source (module level or
    inside functions), resolved to the most specific module that exists."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()

    def add(target: str) -> None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pamnet":
                    add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "pamnet":
                continue
            for alias in node.names:  # `from pamnet.io import pdb` names a submodule
                sub = f"{mod}.{alias.name}"
                add(sub if sub in known else mod)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def dependency_order(graph: dict[str, set[str]]) -> list[str]:
    """Modules with every dependency before its dependents (cycles broken arbitrarily)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(v: str) -> None:
        if v in seen:
            return
        seen.add(v)
        for w in sorted(graph[v]):
            visit(w)
        order.append(v)

    for v in sorted(graph):
        visit(v)
    return order


def test_graph_builder_sees_function_level_and_relative_imports(tmp_path):
    src = "import os\nfrom . import b\n\ndef f():\n    from pamnet.x.c import thing\n"
    (tmp_path / "a.py").write_text(src)
    known = {"pamnet.x", "pamnet.x.a", "pamnet.x.b", "pamnet.x.c"}
    assert imports_of("pamnet.x.a", tmp_path / "a.py", known) == {"pamnet.x.b", "pamnet.x.c"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_every_module_imports_in_a_fresh_interpreter_in_dependency_order():
    order = dependency_order(import_graph())
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    # pamnet.__main__ runs the CLI on import; it is imported by `python -m pamnet` tests.
    names = [m for m in order if m != "pamnet.__main__"]
    res = subprocess.run(
        [sys.executable, "-c", code, *names],
        cwd=ROOT,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]


def test_no_module_over_400_lines():
    files = [*PKG.rglob("*.py"), *(ROOT / "ui").glob("*.py"), *(ROOT / "pages").glob("*.py")]
    long = {
        str(p.relative_to(ROOT)): n
        for p in files
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    unexpected = {p: n for p, n in long.items() if p not in LONG_OK}
    assert not unexpected, f"modules over {MAX_LINES} lines: {unexpected}"
