"""Apps depend downwards only: core <- radar <- experiments <- papers <- review <- config.

The rule is the import-linter contract in pyproject.toml; `make lint` runs it too. A failure
prints each offending import chain (module -> module, with the line)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_app_imports_an_app_above_it():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
