"""Jobs stand on the runtime's public names only: no runtime submodule, no Dramatiq, no ledger SQL.

The runtime's tables and internals may change without touching a job, so a
job learns about runs, ticks and schedules from its step context
(``ctx.ledger``, ``ctx.calendar``) and the names ``wrls_actors.runtime`` exports.

The layers between packages (the runtime below the jobs and importing nothing
of WRLS, job folders apart) are import-linter's contracts in pyproject.toml,
run by ``make check``; this scan adds what they cannot say.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import wrls_actors.jobs

JOBS = Path(wrls_actors.jobs.__file__).parent
# SQL naming a table of the ledger's schema (not prose such as "jobs.js").
LEDGER_SQL = re.compile(r"\b(FROM|JOIN|INTO|UPDATE|TABLE)\s+jobs\.\w+", re.IGNORECASE)


def _module(path: Path, root: Path) -> list[str]:
    parts = ["wrls_actors", "jobs", *path.relative_to(root).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(node: ast.ImportFrom, package: list[str]) -> str:
    if not node.level:
        return node.module or ""
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def violations(root: Path = JOBS) -> list[str]:
    """Each place a job reaches past the runtime's public names, as ``file:line: what``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        module = _module(path, root)
        package = module if path.name == "__init__.py" else module[:-1]
        docstrings = _docstrings(tree)
        where = f"{path.relative_to(root)}"
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                imported = _imported(node, package)
                names = [imported]
                if imported == "wrls_actors":
                    names += [f"wrls_actors.{a.name}" for a in node.names]
                elif imported == "wrls_actors.runtime":
                    # `from ...runtime import cron` reaches a submodule by another spelling.
                    names += [f"wrls_actors.runtime.{a.name}" for a in node.names if a.name in _RUNTIME_SUBMODULES]
            for name in names:
                if name == "dramatiq" or name.startswith("dramatiq."):
                    found.append(f"{where}:{node.lineno}: imports {name}")
                elif name.startswith("wrls_actors.runtime."):
                    found.append(f"{where}:{node.lineno}: imports the runtime submodule {name}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                match = LEDGER_SQL.search(node.value)
                if match:
                    found.append(f"{where}:{node.lineno}: SQL on the ledger's tables ({match.group(0)})")
    return found


_RUNTIME_SUBMODULES = {p.stem for p in (JOBS.parent / "runtime").glob("*.py")} - {"__init__"}


def test_jobs_use_only_the_runtimes_public_names_and_no_ledger_sql():
    assert violations() == []


def test_the_scan_finds_each_kind_of_reach(tmp_path):
    job = tmp_path / "some_job"
    job.mkdir()
    (job / "__init__.py").write_text('"""A job whose docstring may name jobs.runs: prose, not SQL."""\n')
    (job / "step.py").write_text(
        "import dramatiq\n"
        "from ...runtime.service import apply_overrides\n"
        "from ...runtime import cron\n"
        "from ...runtime import StepContext\n"
        "from wrls_actors.runtime.cron import is_expected\n"
        "Q = 'SELECT 1 FROM jobs.ticks WHERE schedule = :s'\n"
        "NOT_SQL = 'see src/lib/connectors/water-import/jobs.js'\n"
    )
    assert violations(tmp_path) == [
        "some_job/step.py:1: imports dramatiq",
        "some_job/step.py:2: imports the runtime submodule wrls_actors.runtime.service",
        "some_job/step.py:3: imports the runtime submodule wrls_actors.runtime.cron",
        "some_job/step.py:5: imports the runtime submodule wrls_actors.runtime.cron",
        "some_job/step.py:6: SQL on the ledger's tables (FROM jobs.ticks)",
    ]
