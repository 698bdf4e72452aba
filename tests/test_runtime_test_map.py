"""The map in docs/testing.md from each runtime module to its tests cannot go stale."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "wrls_actors" / "runtime"
TESTS = ROOT / "tests" / "runtime"
SECTION = "### Where a runtime module's tests are"
ROW = re.compile(r"^\| `(?P<module>\w+)\.py` \| (?P<tests>.+) \|$")


def the_map() -> dict[str, list[str]]:
    """module name -> the test files its row names."""
    rows = {}
    section = (ROOT / "docs" / "testing.md").read_text().split(SECTION, 1)[1].split("\n#", 1)[0]
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            rows[match["module"]] = re.findall(r"`(tests/[^`]+)`", match["tests"])
    return rows


def modules() -> set[str]:
    return {p.stem for p in RUNTIME.glob("*.py") if p.stem != "__init__"}


def test_the_map_is_read():
    assert len(the_map()) >= 10 and all(not m.startswith("test_") for m in the_map())


def test_every_runtime_module_has_its_test_file_or_a_row_saying_where_its_tests_are():
    missing = sorted(m for m in modules() if not (TESTS / f"test_{m}.py").exists() and m not in the_map())
    assert not missing, f"add tests/runtime/test_<module>.py or a row to the map in docs/testing.md for: {missing}"


def test_every_row_names_a_runtime_module_and_test_files_that_exist():
    rows = the_map()
    assert not sorted(set(rows) - modules()), "rows of the map in docs/testing.md for modules that are gone"
    named = [(module, path) for module, paths in rows.items() for path in paths]
    assert not [(m, p) for m, p in named if not (ROOT / p).exists()], "files named in docs/testing.md's map"
    # A module with a file of its own names it, so that the row sends the reader there first.
    assert not [m for m in rows if (TESTS / f"test_{m}.py").exists() and f"tests/runtime/test_{m}.py" not in rows[m]]


def test_every_file_of_tests_runtime_is_named_for_its_module_or_in_the_map():
    named = {path for paths in the_map().values() for path in paths}
    strays = sorted(
        p.name
        for p in TESTS.glob("test_*.py")
        if p.stem.removeprefix("test_") not in modules() and f"tests/runtime/{p.name}" not in named
    )
    assert not strays, f"say in docs/testing.md's map which runtime module these test: {strays}"
