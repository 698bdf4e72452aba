"""Every relative link of the README and docs/ points at a file of the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "bench" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return [target for target in LINK.findall(text) if not re.match(r"[a-z]+:", target)]


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in links(page):
            path = target.split("#", 1)[0]
            if path and not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def test_the_pages_link_to_each_other_and_the_check_sees_links():
    assert "docs/runtime.md" in links(ROOT / "README.md")


def test_no_page_points_outside_the_repository():
    # The legacy notes and the spec are not in this repository: a page says what it needs itself.
    outside = re.compile(r"spec/JOBS\.md|legacy/[a-z]+\.md|\.\./shared")
    found = [str(p.relative_to(ROOT)) for p in PAGES if outside.search(p.read_text())]
    assert found == []


def test_there_is_a_page_for_every_job_folder():
    # jobs/shared holds helpers, not a job: its parts are described on the pages of the jobs using them.
    folders = {p.name for p in (ROOT / "wrls_actors" / "jobs").iterdir() if (p / "__init__.py").exists()} - {"shared"}
    pages = {p.stem for p in (ROOT / "docs" / "jobs").glob("*.md")} - {"README"}
    assert folders == pages
