"""Cross-package checks: each member imports alone, every script answers --help, no name clashes."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["searcher", "s4d_fer", "comorag", "knowledge_dynamics", "onelayer_theory"]


def _members() -> list[Path]:
    return [ROOT / "shared", *sorted((ROOT / "packages").iterdir())]


def _scripts() -> list[tuple[str, str]]:
    pairs = []
    for member in _members():
        project = tomllib.loads((member / "pyproject.toml").read_text())["project"]
        pairs += [(project["name"], script) for script in project.get("scripts", {})]
    return pairs


def test_every_package_is_a_member():
    names = {p.name for p in (ROOT / "packages").iterdir() if p.is_dir()}
    assert names == set(PACKAGES)


@pytest.mark.parametrize("module", ["labcore", *PACKAGES])
def test_imports_on_its_own(module):
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import {module}, {module}.cli" if module != "labcore" else "import labcore",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_script_names_are_unique():
    names = [script for _, script in _scripts()]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"console scripts declared twice: {duplicates}"
    assert ("s4d_fer", "train") in _scripts()


@pytest.mark.parametrize(("package", "script"), _scripts())
def test_script_answers_help(package, script):
    exe = Path(sys.executable).parent / script
    assert exe.exists(), f"{script} ({package}) is not installed; run `uv sync --all-packages`"
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: {script}")


@pytest.mark.parametrize(("package", "script"), _scripts())
def test_script_help_is_fast(package, script):
    """``--help`` must not wait for torch: best of three under 2 s (the console script itself)."""
    import time

    exe = Path(sys.executable).parent / script
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
        best = min(best, time.perf_counter() - start)
        assert proc.returncode == 0, proc.stderr
        if best < 2.0:
            break
    assert best < 2.0, f"{script} --help took {best:.1f} s"
