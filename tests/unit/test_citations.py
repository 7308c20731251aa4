"""Citations point into the repository (issue #11, item 6).

The team's reference notes live outside the repository, where a person who clones the project
cannot read them. So code, tables, tests, benchmarks and docs cite the facts they rest on by a
heading of ``docs/sources.md``, and the founding document's statements as R1-R20, which
``docs/requirements.md`` explains. These tests keep every such citation resolvable.

The files checked are the ones git tracks or would track (untracked but not ignored) under
``SCOPE``, read from the working tree; binary files are skipped.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = "docs/sources.md"
REQUIREMENTS = "docs/requirements.md"
SCOPE = ("src", "tests", "bench", "docs", "README.md", "BENCHMARKS.md")

# This file spells out what it forbids, so it is not checked against itself.
SELF = "tests/unit/test_citations.py"

# The five reference notes outside the repository, and the folder that holds them.
OUTSIDE = re.compile(
    r"\b(?:hyperpod-kubernetes|resilience-anchors|hyperpod-api|local-kubernetes"
    r"|seed-requirements)\.md\b|shared/reference"
)

# A citation of docs/sources.md: the path (bare and followed by a comma, or in backticks and
# optionally followed by one), then one quoted heading or several joined by "," or "and", which
# may continue on the next comment line.
CITATION_HEAD = re.compile(r"docs/sources\.md(?:`\s*,?|,)")
QUOTED = re.compile(r'[\s#]*"([^"\n]+)"')
JOIN = re.compile(r'\s*(?:,\s*and|,|and)(?=[\s#]*")')

# A requirement citation: R<n>, bare or as "R<n> (docs/requirements.md)".
REQUIREMENT = re.compile(r"\bR(\d+)\b")
# An entry of docs/requirements.md: "**R12. One ENI, bounded pods** ...".
REQUIREMENT_ENTRY = re.compile(r"^\*\*R(\d+)\. ", re.M)


def _git_files(*args: str) -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", *args, "--", *SCOPE],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:  # the files to check are unknown
        pytest.fail(f"git ls-files failed, so the citations cannot be checked: {e}")
    return [p for p in out.decode().split("\0") if p]


@cache
def _texts() -> dict[str, str]:
    """Path (relative, POSIX) -> text of every checked file that exists and is text."""
    paths = sorted(set(_git_files()) | set(_git_files("--others", "--exclude-standard")))
    texts = {}
    for path in paths:
        file = ROOT / path
        if path == SELF or not file.is_file():  # deleted in the working tree
            continue
        data = file.read_bytes()
        if b"\0" in data:
            continue
        try:
            texts[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return texts


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _headings() -> list[str]:
    text = (ROOT / SOURCES).read_text()
    return re.findall(r"^#{2,6} (.+?)\s*$", text, re.M)


def _citations(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line, the headings cited) for every docs/sources.md citation in ``text``."""
    for head in CITATION_HEAD.finditer(text):
        names: list[str] = []
        pos = head.end()
        quoted = QUOTED.match(text, pos)
        while quoted:
            names.append(quoted.group(1))
            join = JOIN.match(text, quoted.end())
            if not join:
                break
            quoted = QUOTED.match(text, join.end())
        yield _line(text, head.start()), names


def test_the_checked_files_include_code_tests_and_docs() -> None:
    texts = _texts()
    for path in (SOURCES, REQUIREMENTS, "README.md", "src/podwarden/model/labels.py"):
        assert path in texts, f"{path} is not among the checked files"
    assert any(p.startswith("tests/") for p in texts)
    assert any(p.startswith("bench/") for p in texts)


def test_no_file_cites_the_reference_notes_outside_the_repository() -> None:
    found = [
        f"{path}:{_line(text, m.start())}: {m.group(0)}"
        for path, text in _texts().items()
        for m in OUTSIDE.finditer(text)
    ]
    assert found == [], "cite docs/sources.md or docs/requirements.md instead:\n" + "\n".join(found)


def test_sources_headings_are_unique() -> None:
    headings = _headings()
    assert headings, f"{SOURCES} has no headings"
    assert len(headings) == len(set(headings)), headings


def test_every_sources_citation_names_a_heading_of_sources() -> None:
    headings = set(_headings())
    bad = []
    count = 0
    for path, text in _texts().items():
        for line, names in _citations(text):
            count += 1
            if not names:
                bad.append(
                    f'{path}:{line}: no quoted heading after {SOURCES} (write {SOURCES}, "…")'
                )
            bad.extend(f'{path}:{line}: "{n}" is not a heading' for n in names if n not in headings)
    assert count > 0, f"no citation of {SOURCES} found"
    assert bad == [], "\n".join(bad)


def test_every_sources_section_is_cited_somewhere() -> None:
    """The page holds only facts something cites."""
    cited = {
        name
        for path, text in _texts().items()
        if path != SOURCES
        for _, names in _citations(text)
        for name in names
    }
    uncited = [h for h in _headings() if h not in cited]
    assert uncited == [], f"sections of {SOURCES} nothing cites: {uncited}"


def test_sources_contents_link_every_section() -> None:
    """The table of contents links each heading by GitHub's anchor, and nothing else."""

    def anchor(heading: str) -> str:
        return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")

    text = (ROOT / SOURCES).read_text()
    links = re.findall(r"\]\(#([^)]+)\)", text)
    anchors = [anchor(h) for h in _headings()]
    assert sorted(links) == sorted(anchors)


def test_requirements_page_explains_r1_to_r20() -> None:
    entries = [int(n) for n in REQUIREMENT_ENTRY.findall((ROOT / REQUIREMENTS).read_text())]
    assert entries == list(range(1, 21))


def test_every_requirement_citation_in_src_names_r1_to_r20() -> None:
    cited = [
        (path, _line(text, m.start()), int(m.group(1)))
        for path, text in _texts().items()
        if path.startswith("src/")
        for m in REQUIREMENT.finditer(text)
    ]
    assert cited, "no R<n> citation found in src"
    bad = [f"{path}:{line}: R{n}" for path, line, n in cited if not 1 <= n <= 20]
    assert bad == [], "R1-R20 only (docs/requirements.md):\n" + "\n".join(bad)
