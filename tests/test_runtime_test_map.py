"""The map in docs/testing.md from each runtime module to its tests cannot go stale."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "wrls_actors" / "runtime"
TESTS = ROOT / "tests" / "runtime"
# Subpackages of the runtime whose modules are mapped as `<package>/<module>.py`, their tests in tests/runtime/<package>/.
PACKAGES = ("api", "console")
SECTION = "### Where a runtime module's tests are"
ROW = re.compile(r"^\| `(?P<module>(?:(?:" + "|".join(PACKAGES) + r")/)?\w+)\.py` \| (?P<tests>.+) \|$")


def the_map() -> dict[str, list[str]]:
    """module name (`cron`, `api/v1`) -> the test files its row names."""
    rows = {}
    section = (ROOT / "docs" / "testing.md").read_text().split(SECTION, 1)[1].split("\n#", 1)[0]
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            rows[match["module"]] = re.findall(r"`(tests/[^`]+)`", match["tests"])
    return rows


def modules() -> set[str]:
    found = {p.stem for p in RUNTIME.glob("*.py") if p.stem != "__init__"}
    for package in PACKAGES:
        found |= {f"{package}/{p.stem}" for p in (RUNTIME / package).glob("*.py") if p.stem != "__init__"}
    return found


def own_file(module: str) -> Path:
    """Where a module's own tests are: tests/runtime/test_cron.py, tests/runtime/api/test_v1.py."""
    folder, _, name = module.rpartition("/")
    return TESTS / folder / f"test_{name}.py"


def runtime_test_files() -> list[Path]:
    return [*TESTS.glob("test_*.py"), *(p for package in PACKAGES for p in (TESTS / package).glob("test_*.py"))]


def module_of(test_file: Path) -> str:
    """The module a test file is named for: tests/runtime/api/test_v1.py -> api/v1."""
    folder, name = test_file.parent.relative_to(TESTS).as_posix(), test_file.stem.removeprefix("test_")
    return name if folder == "." else f"{folder}/{name}"


def test_the_map_is_read():
    rows = the_map()
    assert len(rows) >= 10 and all(not m.rpartition("/")[2].startswith("test_") for m in rows)
    assert [m for m in rows if m.startswith("api/")], "no row of the map in docs/testing.md was read for api/"


def test_the_modules_of_the_api_package_are_found():
    assert {"api/v1", "api/auth", "api/guard"} <= modules() and "api/__init__" not in modules()


def test_every_runtime_module_has_its_test_file_or_a_row_saying_where_its_tests_are():
    missing = sorted(m for m in modules() if not own_file(m).exists() and m not in the_map())
    assert not missing, (
        f"add tests/runtime/[api/]test_<module>.py or a row to the map in docs/testing.md for: {missing}"
    )


def test_every_row_names_a_runtime_module_and_test_files_that_exist():
    rows = the_map()
    assert not sorted(set(rows) - modules()), "rows of the map in docs/testing.md for modules that are gone"
    named = [(module, path) for module, paths in rows.items() for path in paths]
    assert not [(m, p) for m, p in named if not (ROOT / p).exists()], "files named in docs/testing.md's map"
    # A module with a file of its own names it, so that the row sends the reader there first.
    assert not [m for m in rows if own_file(m).exists() and str(own_file(m).relative_to(ROOT)) not in rows[m]]


def test_every_file_of_tests_runtime_is_named_for_its_module_or_in_the_map():
    named = {path for paths in the_map().values() for path in paths}
    strays = sorted(
        str(p.relative_to(TESTS))
        for p in runtime_test_files()
        if module_of(p) not in modules() and str(p.relative_to(ROOT)) not in named
    )
    assert not strays, f"say in docs/testing.md's map which runtime module these test: {strays}"
