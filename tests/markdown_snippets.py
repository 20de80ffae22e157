"""Run the code blocks of a markdown page, in order, as a reader would.

- ```` ```python ```` blocks run in one namespace per page. A block whose first
  line starts with ``>>>`` is a doctest: its printed results must match (with
  ``...`` as a wildcard and whitespace normalized).
- ```` ```bash ```` (``sh``, ``shell``, ``console``) blocks: each command must be
  a ``showerdata ...`` command; it runs (as ``python -m showerdata``) and must
  exit 0. Comments after ``#`` and line continuations are understood.
- A block that cannot run here (it installs packages, needs a cluster or
  credentials, waits for a browser) says so in an HTML comment on the line
  right before its fence: ``<!-- not-run: the reason -->``. A marker without a
  reason, or a shell command that is not ``showerdata``, is an error: nothing
  is skipped silently.
- Other fences (``text``, directives such as ``{toctree}``) are not code.
"""

from __future__ import annotations

import contextlib
import doctest
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,})(?P<info>[^`\n]*)$")
NOT_RUN = re.compile(r"^\s*<!--\s*not-run:(?P<reason>.*?)-->\s*$")
SHELL = {"bash", "sh", "shell", "console"}
DOCTEST_FLAGS = (
    doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.REPORT_ONLY_FIRST_FAILURE
)


@dataclass
class Block:
    """One fenced block of a page."""

    language: str
    code: str
    line: int  # 1-based line of the opening fence
    not_run: str | None  # the reason, if marked not-run


class SnippetError(AssertionError):
    """A block failed; the message names the page, the line and what went wrong."""


def blocks(text: str) -> list[Block]:
    """The fenced blocks of markdown ``text``, in order."""
    lines = text.splitlines()
    found = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        body = []
        end = index + 1
        while end < len(lines) and not re.match(rf"^ *{fence}`*\s*$", lines[end]):
            body.append(lines[end][indent:])
            end += 1
        marker = NOT_RUN.match(lines[index - 1]) if index else None
        language = opening["info"].strip().split(" ")[0].lower()
        found.append(
            Block(
                language,
                "\n".join(body) + "\n",
                index + 1,
                None if marker is None else marker["reason"].strip(),
            )
        )
        index = end + 1
    return found


def shell_commands(code: str) -> list[str]:
    """The commands of a shell block: continuations joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            commands.append(words)
    return commands


def run_page(path: Path, workdir: Path, env: dict[str, str] | None = None) -> int:
    """Run every block of the page at ``path`` in ``workdir``; how many ran.

    Raises
    ------
    SnippetError
        A block failed, a marker has no reason, or a shell block runs something
        other than ``showerdata``.
    """
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    with contextlib.chdir(workdir):
        for block in blocks(path.read_text()):
            where = f"{path.name}, block at line {block.line}"
            if block.not_run is not None:
                if not block.not_run:
                    raise SnippetError(f"{where}: a not-run marker needs a reason")
                continue
            if block.language == "python":
                _run_python(block, namespace, where)
            elif block.language in SHELL:
                _run_shell(block, where, env)
            else:
                continue
            ran += 1
    return ran


def _run_python(block: Block, namespace: dict, where: str) -> None:
    if block.code.lstrip().startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(
            block.code, namespace, where, where, block.line
        )
        runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        namespace.update(test.globs)  # doctest ran on a copy of the namespace
        if runner.failures:
            raise SnippetError(f"{where}:\n{''.join(report)}")
        return
    try:
        exec(compile(block.code, where, "exec"), namespace)
    except Exception as error:
        raise SnippetError(f"{where}: {type(error).__name__}: {error}") from error


def _run_shell(block: Block, where: str, env: dict[str, str] | None) -> None:
    for words in shell_commands(block.code):
        if words[0] != "showerdata":
            raise SnippetError(
                f"{where}: runs {words[0]!r}; only showerdata commands run here. "
                "Mark the block <!-- not-run: reason --> if it cannot run."
            )
        done = subprocess.run(
            [sys.executable, "-m", "showerdata", *words[1:]],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
        )
        if done.returncode != 0:
            raise SnippetError(
                f"{where}: `{shlex.join(words)}` exited {done.returncode}:\n"
                f"{done.stderr[-3000:]}"
            )
