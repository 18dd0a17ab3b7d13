"""The package stays in rooms one head can hold: ruff's lint (with a complexity limit of 15 on
the package and the DAGs) is clean, and no function there runs over 80 lines."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CODE = [REPO / "grassroots", REPO / "dags"]
MAX_LINES = 80


def test_ruff_is_clean() -> None:
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "grassroots",
                          "dags", "tests"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def long_functions(roots: list[Path], limit: int = MAX_LINES) -> list[str]:
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    n = node.end_lineno - node.lineno + 1
                    if n > limit:
                        found.append(f"{path.relative_to(root.parent)}:{node.lineno} {node.name} {n}")
    return found


def test_no_function_over_80_lines() -> None:
    assert long_functions(CODE) == []


def test_the_length_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n", encoding="utf-8")
    assert len(long_functions([tmp_path])) == 1
