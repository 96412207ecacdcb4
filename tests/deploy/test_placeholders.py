"""Every placeholder the deploy files ship (example URLs, image names, secrets) is marked `# set this`.

A placeholder line is marked on the line itself, on the comment line just above it, or by a
`# set this` note in the same file that names the placeholder (for files where a comment cannot sit
beside the value, e.g. inside a YAML block scalar, or where every line repeats it). The README's
deploy section lists them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# pattern -> the text a file-level note must name
PLACEHOLDERS = {
    r"github\.com/example\b": "github.com/example",
    r"ghcr\.io/example\b": "ghcr.io/example",
    r"REPLACE-ME": "REPLACE-ME",
    r"\bexample\.(com|net|org)\b": "example.com",
}
MARK = "# set this"


def deploy_files() -> list[Path]:
    files = [REPO / "Dockerfile"]
    files += sorted(
        p for p in (REPO / "deploy").rglob("*") if p.is_file() and p.suffix not in (".md", ".json")
    )
    return files


def unmarked(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    notes = " ".join(line for line in lines if MARK in line)
    found = []
    for number, line in enumerate(lines):
        above = lines[number - 1] if number else ""
        for pattern, name in PLACEHOLDERS.items():
            if not re.search(pattern, line):
                continue
            if MARK in line or (MARK in above and above.lstrip().startswith("#")) or name in notes:
                continue
            found.append(f"{path.relative_to(REPO)}:{number + 1}: {line.strip()}")
    return found


@pytest.mark.parametrize("path", deploy_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_placeholder_is_marked(path: Path) -> None:
    assert unmarked(path) == []


def test_an_unmarked_placeholder_is_found(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("image: ghcr.io/example/failover-watcher:0.1.0\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(f"{__name__}.REPO", tmp_path)
        assert unmarked(bad) == ["x.yaml:1: image: ghcr.io/example/failover-watcher:0.1.0"]
        bad.write_text("image: ghcr.io/example/failover-watcher:0.1.0  # set this\n")
        assert unmarked(bad) == []


def test_the_readme_lists_the_placeholders() -> None:
    section = (REPO / "README.md").read_text().split("## Deployment", 1)[1].split("\n## ", 1)[0]
    for name in ("ghcr.io/example", "github.com/example", "REPLACE-ME", "client_id", "runbook_url"):
        assert name in section, name
