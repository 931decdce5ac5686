#!/usr/bin/env python3
"""Set up and run polyalloy with nothing but Python 3.11+: `python3 tasks.py demo | test | bench`.

Creates a virtual environment in .venv (once, and again when pyproject.toml changes), installs
polyalloy and what it needs from PyPI into it, then runs the demo, the test suite or the
benchmark there. Taichi, the benchmark's reference, is installed only for `bench`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".polyalloy-installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_environment(extras: str) -> Path:
    """The venv's python, with polyalloy installed (editable) with `extras` (e.g. "test")."""
    if sys.version_info < (3, 11):
        sys.exit(f"polyalloy needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    python = venv_python()
    if python.exists() and STAMP.exists() and STAMP.read_text() == digest:
        return python
    if not python.exists():
        print(f"creating virtual environment {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing polyalloy and its dependencies (first time only)", flush=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[{extras}]"], check=True)
    STAMP.write_text(digest)
    return python


def main() -> int:
    commands = {
        "demo": ("test", ["-m", "polyalloy.cli", "demo"]),
        # One worker per core, a test file to each: most tests are small enough that a core
        # idles while the other runs a kernel or Python.
        "test": ("test", ["-m", "pytest", "-n", "auto", "--dist", "loadfile"]),
        "bench": ("test,bench", ["-m", "polyalloy.cli", "bench"]),
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(f"usage: python3 tasks.py {{{'|'.join(commands)}}} [extra arguments]", file=sys.stderr)
        return 2
    extras, command = commands[sys.argv[1]]
    python = ensure_environment(extras)
    return subprocess.run([python, *command, *sys.argv[2:]], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
