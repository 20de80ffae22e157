"""Sphinx configuration of the showerdata documentation.

Build with ``make docs`` (warnings are errors); the pages are MyST markdown,
the API reference comes from the docstrings (numpy style, via napoleon).
"""

from __future__ import annotations

import re

import showerdata

project = "showerdata"
author = "The showerdata developers"
copyright = "the showerdata developers"  # noqa: A001 (Sphinx's name)
version = release = showerdata.__version__

extensions = [
    "myst_nb",  # MyST markdown pages, and the notebooks with their figures
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinxarg.ext",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# Markdown: ``:::`` fences for directives, ``$`` maths, anchors for headings so
# pages can link to sections (``[text](file-format.md#zarr)``).
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# The notebooks (docs/notebooks/ links to notebooks/, committed without
# outputs) run at every build, each in a fresh temporary directory where it
# makes its own small toy production; a failing cell fails the build.
nb_execution_mode = "force"
nb_execution_in_temp = True
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

# API reference: numpy-style docstrings, signatures as written in the code.
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Keep the aliases' names in signatures instead of their (long) expansions.
autodoc_type_aliases = {
    "ArrayLike": "ArrayLike",
    "NDArray": "NDArray",
    "PathLike": "PathLike",
    "IndexLike": "IndexLike",
}
autosummary_generate = False  # the API page lists its entries itself

html_theme = "alabaster"
html_title = f"showerdata {release}"
html_theme_options = {
    "description": "Lazy, chunked, out-of-core calorimeter shower point clouds",
    "fixed_sidebar": True,
    "page_width": "1240px",  # room for the benchmark and layout tables
    "body_max_width": "none",
}


def _tidy_signature(app, what, name, obj, options, signature, return_annotation):
    # Sphinx writes an alias inside a union (``ArrayLike | None``) as
    # ``TypeAliasForwardRef('ArrayLike') | None``; show the alias name.
    def plain(text):
        return (
            re.sub(r"TypeAliasForwardRef\('([^']+)'\)", r"\1", text) if text else text
        )

    # Methods inherited from the common base return ``B`` (a TypeVar): name the
    # class they are documented on instead.
    if what == "method" and return_annotation == "~showerdata.bundle.B":
        return_annotation = name.split(".")[-2]
    return plain(signature), plain(return_annotation)


def setup(app):
    app.connect("autodoc-process-signature", _tidy_signature)
