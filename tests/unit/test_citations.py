"""Code cites documents, and documents cite what exists: read from the files, nothing run.

- no comment, docstring or name in the code or the tests cites an issue number: an issue is closed
  and forgotten, a document stays (cite SPEC §N, docs/*.md or DEVELOPERS.md "Section");
- every relative link of README.md, DEVELOPERS.md and docs/*.md points to a file of the
  repository (and to one of its headings, when it names one);
- every repository path those documents name in backticks exists, and every `path.py::name` they
  cite (docs/rules.md's "lives in" and "tested by") is defined in that file;
- docs/architecture.md's table of layers says what tests/unit/test_layers.py's LAYERS enforces.
"""
import ast
import functools
import re
from pathlib import Path

import pytest

from tests.unit.test_layers import LAYERS

ROOT = Path(__file__).resolve().parents[2]
CODE_FOLDERS = ("chalicelib", "tests", "devlocal", "infra", "bench")
CODE_SUFFIXES = {".py", ".yaml", ".yml", ".sh", ".toml", ".cfg", ".ini"}
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "DEVELOPERS.md", *(ROOT / "docs").glob("*.md")])
ISSUE_NUMBER = re.compile(r"\bissues?\s*(?:#\s*)?\d+", re.IGNORECASE)

# Files other changes in progress own (the parse-once, error-registry and storage work, and the
# old draw-record branches they remove): they still cite issue numbers until those land. To be
# emptied once they are merged; do not add to it.
NOT_YET: set[str] = set()


def _code_files():
    files = [ROOT / "app.py", *(path for folder in CODE_FOLDERS for path in (ROOT / folder).rglob("*")
                                if path.suffix in CODE_SUFFIXES and "__pycache__" not in path.parts)]
    return sorted(files)


def _relative(path):
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", _code_files(), ids=_relative)
def test_code_cites_documents_never_issue_numbers(path):
    if _relative(path) in NOT_YET:
        pytest.skip("owned by a change in progress (NOT_YET)")
    cited = [f"line {n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
             if ISSUE_NUMBER.search(line)]
    assert not cited, "cite the document or section meant (SPEC §N, docs/*.md, DEVELOPERS.md):\n" + "\n".join(cited)


def test_the_list_of_files_not_yet_clean_only_shrinks():
    still = {name for name in NOT_YET if (ROOT / name).exists() and ISSUE_NUMBER.search((ROOT / name).read_text())}
    assert still == NOT_YET, f"clean now, remove from NOT_YET: {sorted(NOT_YET - still)}"


# --- documents -------------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
REPO_PATH = re.compile(r"^(?:app\.py|(?:chalicelib|tests|devlocal|infra|bench|docs|web)/[\w./-]*)$")
CITATION = re.compile(r"^([\w./-]+\.py)::(\w+)$")


def _slug(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def _anchors(markdown):
    fenced, anchors = False, set()
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            anchors.add(_slug(line.lstrip("#")))
    return anchors


def _prose(markdown):
    """The document without its fenced code blocks (shell examples are not links)."""
    return re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("document", DOCUMENTS, ids=_relative)
def test_relative_links_point_to_files_of_the_repository(document):
    broken = []
    for target in LINK.findall(_prose(document.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:: not a file of ours
            continue
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if ROOT != linked and ROOT not in linked.parents or not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked.read_text()):
            broken.append(f"{target} (no such heading)")
    assert not broken, broken


@pytest.mark.parametrize("document", DOCUMENTS, ids=_relative)
def test_the_paths_and_functions_a_document_names_exist(document):
    missing = []
    for span in CODE_SPAN.findall(_prose(document.read_text())):
        cited = CITATION.match(span)
        path = cited.group(1) if cited else span
        if not REPO_PATH.match(path) or "*" in path or _ignored(path):
            continue
        if not (ROOT / path).exists():
            missing.append(path)
        elif cited and cited.group(2) not in _defined_names(ROOT / path):
            missing.append(span)
    assert not missing, missing


def _ignored(path):
    """Made by a run, never committed (.gitignore): `web/test-artifacts/` exists only after one."""
    patterns = {line.strip().strip("/") for line in (ROOT / ".gitignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    return any(part in patterns for part in Path(path).parts)


@functools.cache
def _defined_names(path):
    tree = ast.parse(path.read_text())
    names = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    names |= {target.id for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AnnAssign))
              for target in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(target, ast.Name)}
    return names


def test_the_architecture_table_is_the_one_test_layers_enforces():
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"`\w+`", cells[0]):
            documented[cells[0].strip("`")] = set(re.findall(r"`(\w+)`", cells[2]))
    assert documented == LAYERS
