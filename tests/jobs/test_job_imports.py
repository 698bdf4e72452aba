"""Jobs do not reach into each other's folders: what several share lives in a named shared place.

A job folder may import from another job folder only that package's public
Job objects (what ``wrls_actors/jobs/__init__.py`` gathers); anything else a
job needs from outside its folder comes from ``wrls_actors.nald``, the
runtime, or a shared module of ``wrls_actors/jobs`` that is not a job (and
does not import one either).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import wrls_actors
from wrls_actors.runtime import Job

ROOT = Path(wrls_actors.__file__).parent
JOBS_DIR = ROOT / "jobs"


def _job_folders() -> set[str]:
    import importlib

    folders = set()
    for init in JOBS_DIR.glob("*/__init__.py"):
        package = importlib.import_module(f"wrls_actors.jobs.{init.parent.name}")
        if getattr(package, "JOBS", None):
            folders.add(init.parent.name)
    return folders


JOB_FOLDERS = _job_folders()


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, names) of each import of ``path`` (its text: ``source``, or read)."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = []
    text = path.read_text() if source is None else source
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name, []) for a in node.names)
    return found


def _target(module: str, names: list[str]) -> list[tuple[str, str | None]]:
    """(folder of wrls_actors.jobs imported, name taken from the folder's package or None) for each name."""
    parts = module.split(".")
    if parts[:2] != ["wrls_actors", "jobs"]:
        return []
    if len(parts) > 3:
        return [(parts[2], None)]
    if len(parts) == 3:
        return [(parts[2], name) for name in names] or [(parts[2], None)]
    return [(name, None) for name in names]  # from wrls_actors.jobs import <folder>


def _is_job(package: str, name: str | None) -> bool:
    import importlib

    value = getattr(importlib.import_module(f"wrls_actors.jobs.{package}"), name or "", None)
    return isinstance(value, Job) or (name == "JOBS" and all(isinstance(j, Job) for j in value))


def cross_job_imports(files: dict[Path, str | None]) -> list[str]:
    """The imports of ``files`` (path: its text, or None to read it) that break the rule."""
    bad = []
    for path, source in files.items():
        rel = path.relative_to(JOBS_DIR)
        home = rel.parts[0] if len(rel.parts) > 1 else None
        for line, module, names in _imports(path, source):
            for folder, name in _target(module, names):
                if folder == home or folder not in JOB_FOLDERS:
                    continue
                if home in JOB_FOLDERS and name is not None and _is_job(folder, name):
                    continue
                bad.append(f"{path.relative_to(ROOT.parent)}:{line} imports {module}" + (f".{name}" if name else ""))
    return bad


def test_job_folders_are_found():
    assert {"nald_import", "licence_import", "bill_runs_import", "tracker"} <= JOB_FOLDERS
    assert not {"shared", "digitise"} & JOB_FOLDERS


def test_no_job_imports_another_jobs_internals():
    files = {p: None for p in JOBS_DIR.rglob("*.py") if p != JOBS_DIR / "__init__.py"}
    assert len(files) > 50
    assert cross_job_imports(files) == []


@pytest.mark.parametrize(
    "home, source, reported",
    [
        ("bill_runs_import/probe.py", "from ..charging_import_data.mapping import loss_factor", True),
        ("bill_runs_import/probe.py", "from ..charging_import_data import mapping", True),
        ("bill_runs_import/probe.py", "from wrls_actors.jobs.tracker.send import send", True),
        ("bill_runs_import/probe.py", "import wrls_actors.jobs.tracker.send", True),
        ("shared/probe.py", "from ..tracker.send import send", True),
        ("guards.py", "from .tracker import send", True),
        ("bill_runs_import/probe.py", "from ..charging_import_data import CHARGING_IMPORT_DATA", False),
        ("bill_runs_import/probe.py", "from ..shared.nald_wait import wait_for_nald_step", False),
        ("bill_runs_import/probe.py", "from ...nald.values import nald_date", False),
        ("bill_runs_import/sub/probe.py", "from ..volumes import volumes", False),
    ],
)
def test_the_scan_reports_a_reach_into_another_job(home, source, reported):
    assert bool(cross_job_imports({JOBS_DIR / home: source})) is reported


@pytest.mark.parametrize("path", sorted((ROOT / "nald").glob("*.py")), ids=lambda p: p.name)
def test_the_nald_rules_know_no_job(path):
    assert [m for _, m, _ in _imports(path) if m.startswith("wrls_actors.jobs")] == []
