"""``python -m showerdata``; ``main`` is 0.7's entry point of the same name."""

from __future__ import annotations

import argparse
import sys

from .cli import main

__all__ = ["add_observables_parser_options", "main", "simple_warning"]


def add_observables_parser_options(parser: argparse.ArgumentParser) -> None:
    """Add 0.7's arguments of the ``add-observables`` command to ``parser``."""
    parser.add_argument("filename", type=str, help="Path to the input HDF5 file")
    parser.add_argument(
        "-b",
        "--batch-size",
        type=int,
        default=4096,
        help="Batch size for processing (default: 4096)",
    )
    parser.add_argument(
        "-l",
        "--num-layers",
        type=int,
        default=0,
        help="Number of layers to process (default: inferred from the detector "
        "geometry)",
    )
    parser.add_argument(
        "-t",
        "--threshold",
        type=float,
        default=0.0,
        help="Energy threshold for hits to be included in observables calculation "
        "(default: 0.0)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Overwrite existing observables if they exist",
    )


def simple_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """Format a warning on one line, without the source line (0.7's formatter)."""
    return f"{filename}:{lineno}: {category.__name__}: {message}\n"


if __name__ == "__main__":
    sys.exit(main())
