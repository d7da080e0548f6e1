"""Layers point one way: orchestration -> quality | ml -> ingestion -> lakehouse (the core).

The contract lives in pyproject.toml ([tool.importlinter]); import-linter checks every import statement.
"""

import subprocess
import sys
from pathlib import Path

from lakehouse.settings import PROJECT_DIR


def test_import_layers_point_one_way():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout
