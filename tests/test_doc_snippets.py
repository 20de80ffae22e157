"""Every code block of README.md and docs/*.md runs, and so do the docstring examples.

Each page runs in a fresh directory holding a small toy production under the
names the pages use (``production.h5``, ``train.h5``, ``prod/part-*.h5``);
see :mod:`markdown_snippets` for what runs and how a block is marked not-run.
A new page under docs/ is picked up by itself.
"""

from __future__ import annotations

import doctest
import importlib
import os
import textwrap
from pathlib import Path

import pytest
from markdown_snippets import DOCTEST_FLAGS, SnippetError, blocks, run_page

import showerdata
from showerdata.toy import toy_showers

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

#: Modules whose docstring examples run (on the same toy production).
EXAMPLE_MODULES = (
    "showerdata.io.api",
    "showerdata.bundle",
    "showerdata.showers",
    "showerdata.ops.clustering",
    "showerdata.ops.filtering",
    "showerdata.ops.shifting",
    "showerdata.ops.observables",
    "showerdata.observables",
)


@pytest.fixture(scope="session")
def toy_production(tmp_path_factory) -> Path:
    """1,000 seeded toy showers (P = 2000, F = 5), whole and in two files."""
    data = tmp_path_factory.mktemp("toy-production")
    showers = toy_showers(1_000, seed=0)
    showerdata.save(showers, data / "production.h5")
    (data / "prod").mkdir()
    showerdata.save(showers[:500], data / "prod" / "part-1.h5")
    showerdata.save(showers[500:], data / "prod" / "part-2.h5")
    return data


@pytest.fixture
def page_dir(tmp_path, toy_production) -> Path:
    """A fresh directory with the toy production under the names pages use."""
    for name in ("production.h5", "train.h5"):
        (tmp_path / name).symlink_to(toy_production / "production.h5")
    (tmp_path / "prod").mkdir()  # pages write index files into it
    for part in (toy_production / "prod").iterdir():
        (tmp_path / "prod" / part.name).symlink_to(part)
    return tmp_path


@pytest.fixture
def quiet_env(tmp_path_factory) -> dict[str, str]:
    # Commands of the pages run as a user would, without our tests' settings.
    return {"NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", "")} | {
        "MPLBACKEND": "Agg"
    }


def test_every_page_is_found():
    names = {page.name for page in PAGES}
    assert {"README.md", "index.md", "getting-started.md", "lazy-model.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_blocks_of_a_page_run(page, page_dir, quiet_env, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    run_page(page, page_dir, quiet_env)


def test_a_wrong_snippet_fails(tmp_path, page_dir):
    page = tmp_path / "wrong.md"
    page.write_text(
        textwrap.dedent(
            """\
            ```python
            import showerdata
            showers = showerdata.load("production.h5")
            ```

            ```python
            >>> len(showers)
            999
            ```
            """
        )
    )
    with pytest.raises(SnippetError, match="Expected:\\s+999\\s+Got:\\s+1000"):
        run_page(page, page_dir)
    page.write_text("```python\nimport showerdata\nshowerdata.load('gone.h5')\n```\n")
    with pytest.raises(SnippetError, match="FileNotFoundError"):
        run_page(page, page_dir)
    page.write_text("```bash\nshowerdata info missing.h5\n```\n")
    with pytest.raises(SnippetError, match="exited"):
        run_page(page, page_dir)


def test_shell_blocks_run_only_showerdata_or_say_why_not(tmp_path, page_dir):
    page = tmp_path / "shell.md"
    page.write_text("```bash\npip install showerdata\n```\n")
    with pytest.raises(SnippetError, match="only showerdata commands run here"):
        run_page(page, page_dir)
    page.write_text("<!-- not-run: -->\n```bash\npip install showerdata\n```\n")
    with pytest.raises(SnippetError, match="needs a reason"):
        run_page(page, page_dir)
    page.write_text(
        "<!-- not-run: installs packages -->\n```bash\npip install x\n```\n"
        "```bash\nshowerdata info production.h5   # a comment\n```\n"
    )
    assert run_page(page, page_dir) == 1


def test_marked_blocks_say_why():
    for page in PAGES:
        for block in blocks(page.read_text()):
            assert block.not_run is None or block.not_run, (page.name, block.line)


@pytest.mark.parametrize("module", EXAMPLE_MODULES)
def test_docstring_examples_run(module, page_dir, monkeypatch):
    monkeypatch.chdir(page_dir)
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests = finder.find(importlib.import_module(module))
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
    report: list[str] = []
    examples = 0
    for test in tests:
        examples += len(test.examples)
        runner.run(test, out=report.append)
    assert not runner.failures, "".join(report)
    assert examples, f"{module} has no examples"
