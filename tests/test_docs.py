"""The Sphinx documentation builds without warnings and covers the public API.

``make test`` installs the ``docs`` extra so that CI runs this; elsewhere the
build is skipped when Sphinx is not installed (``make docs`` installs it).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

import showerdata

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The HTML docs, built from scratch with warnings as errors."""
    missing = [
        name
        for name in ("sphinx", "myst_parser", "myst_nb", "sphinxarg")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        message = (
            f"docs extra not installed ({', '.join(missing)}): pip install -e '.[docs]'"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("docs")
    began = time.perf_counter()
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(out / "doctrees"),
            str(DOCS),
            str(out / "html"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    print(f"sphinx-build took {time.perf_counter() - began:.1f} s")
    assert build.returncode == 0, (
        f"sphinx-build failed (exit {build.returncode}):\n{build.stderr}"
    )
    return out / "html"


def test_docs_build_without_warnings(built):
    for page in (
        "index",
        "getting-started",
        "lazy-model",
        "productions",
        "file-format",
        "cluster",
        "notebooks",
        "notebooks/interactive_slicing",
        "notebooks/distributed_run",
        "cli",
        "migration",
        "troubleshooting",
        "performance",
        "api",
    ):
        assert (built / f"{page}.html").is_file(), page


def public_names() -> list[str]:
    return [
        name
        for name in showerdata.__all__
        if not name.startswith("_")
        and not isinstance(getattr(showerdata, name), types.ModuleType)
    ]


def test_api_reference_documents_every_public_name(built):
    page = (built / "api.html").read_text()
    documented = set(re.findall(r'id="showerdata\.([A-Za-z_]\w*)"', page))
    missing = sorted(set(public_names()) - documented)
    assert not missing, f"add to docs/api.rst: {missing}"


def test_observables_are_in_the_api_reference(built):
    page = (built / "api.html").read_text()
    for name in showerdata.observables.__all__:
        if name in ("load", "save"):  # aliases of the read/save functions
            continue
        assert f'id="showerdata.observables.{name}"' in page, name


def test_performance_page_includes_the_benchmark_report(built):
    page = (built / "performance.html").read_text()
    assert "Reproducing" in page
    report = (REPO / "benchmarks" / "results.md").read_text()
    first_case = re.search(r"^\| (\w+) \|", report.split("## Results", 1)[1], re.M)
    assert first_case and first_case.group(1) in page
    assert "Machine" in page


def test_cli_page_lists_the_parser_commands(built):
    from showerdata.cli import parser

    page = (built / "cli.html").read_text()
    commands = next(
        action
        for action in parser()._actions
        if action.__class__.__name__ == "_SubParsersAction"
    )
    for name in commands.choices:
        assert name in page, name


def test_readme_links_exist():
    readme = (REPO / "README.md").read_text()
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme)
    assert links
    missing = [link for link in links if not (REPO / link).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_notebooks_are_rendered_with_their_figures(built):
    """The notebooks ran at build time and their figures are on the pages."""
    for name in ("interactive_slicing", "distributed_run"):
        page = (built / "notebooks" / f"{name}.html").read_text()
        figures = re.findall(r'<img [^>]*src="\.\./(_images/[^"]+\.png)"', page)
        assert figures, f"{name}: no figure rendered"
        assert all((built / figure).is_file() for figure in figures), name
        assert "Traceback" not in page, f"{name}: a cell failed"


def test_api_reference_shows_no_raw_markup(built):
    """reST markup that did not parse (e.g. ``~``x````) shows as literal backticks."""
    page = (built / "api.html").read_text()
    assert "``" not in page
