"""The functions of showerdata 0.7's command modules, on top of :mod:`.cli`.

0.7 user code builds its own parsers from ``filter.add_parser_arguments``,
``cluster_module.add_parser_arguments`` and friends, and calls their
``main(args)`` with the parsed namespace. The parsers here take exactly 0.7's
arguments; the ``main`` functions run our commands (lazy, chunked, all or
nothing) with those arguments. The modules of 0.7's paths
(:mod:`showerdata.filter`, :mod:`showerdata.cluster_module`,
:mod:`showerdata.shift_showers`, :mod:`showerdata.shuffle`) re-export them.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

__all__ = [
    "add_cluster_arguments",
    "add_filter_arguments",
    "add_shift_arguments",
    "add_shuffle_options",
    "run_cluster",
    "run_filter",
    "run_shift",
    "run_shuffle",
]


def _run(command: str, args: argparse.Namespace, **given: Any) -> int:
    """Run our ``command`` with the values of a 0.7 namespace.

    Options 0.7 did not have take our parser's defaults; ``given`` maps ours
    to values taken from ``args`` where the names differ.
    """
    from .cli import parser

    placeholders = ["input", "output"]
    defaults = vars(parser().parse_args([command, *placeholders]))
    values = {**defaults, **vars(args), **given}
    values.setdefault("debug", False)
    return int(values["run"](argparse.Namespace(**values)))


# -- filter ---------------------------------------------------------------------------


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """Add 0.7's arguments of the ``filter`` command to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        Parser (or subparser) to extend.
    """
    parser.add_argument(
        "-r",
        "--radius",
        type=float,
        default=float("inf"),
        help="Radius (in millimeters) for the cylindrical cut filter.",
    )
    parser.add_argument(
        "--ecal-threshold",
        type=float,
        default=0.0,
        help="Energy threshold (in MeV) for the ECAL hit filter.",
    )
    parser.add_argument(
        "--hcal-threshold",
        type=float,
        default=0.0,
        help="Energy threshold (in MeV) for the HCAL hit filter.",
    )
    parser.add_argument(
        "-d",
        "--use-detector-thresholds",
        action="store_true",
        help="Use the detector's predefined energy thresholds for filtering hits.",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Overwrite the output file if it already exists.",
    )
    parser.add_argument(
        "input", type=str, help="Input file containing showers to be filtered."
    )
    parser.add_argument(
        "output", type=str, help="Output file to save the filtered showers."
    )


def parse_filter_arguments(args: list[str] | None = None) -> argparse.Namespace:
    """Parse 0.7's ``filter`` arguments (``sys.argv`` when ``args`` is None)."""
    parser = argparse.ArgumentParser(
        description="Filter hits in shower data based on spatial and energy criteria."
    )
    add_filter_arguments(parser)
    return parser.parse_args(args=args)


def run_filter(args: argparse.Namespace) -> None:
    """Filter ``args.input`` into ``args.output`` (0.7's ``filter.main``).

    An existing output without ``--overwrite`` gives 0.7's warning, not an
    error.
    """
    try:
        _run("filter", args)
    except FileExistsError:
        warnings.warn(
            f"Output file '{args.output}' already exists. Use --overwrite to "
            "overwrite it.",
            UserWarning,
            stacklevel=2,
        )


# -- cluster ------------------------------------------------------------------------


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    """Add 0.7's arguments of the ``cluster`` command to ``parser``."""
    parser.add_argument(
        "input", type=str, help="Input file containing showers to be clustered."
    )
    parser.add_argument(
        "output", type=str, help="Output file to save the clustered showers."
    )
    parser.add_argument(
        "--no-random-shift",
        action="store_true",
        help="Disable random shift of the grid.",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=10000,
        help="Number of showers to process in each batch.",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="Number of parallel processes to use (default: 1, i.e. no parallelism).",
    )


def initialize_cluster_parser() -> argparse.ArgumentParser:
    """A parser of 0.7's ``cluster`` arguments."""
    parser = argparse.ArgumentParser(
        description="Cluster hits into readout cells using a regular grid."
    )
    add_cluster_arguments(parser)
    return parser


def run_cluster(args: argparse.Namespace) -> None:
    """Cluster ``args.input`` into ``args.output`` (0.7's ``cluster_module.main``).

    As in 0.7 an existing output is replaced. ``batch_size`` is not a chunk
    length here (0.7's default of 10,000 showers can be gigabytes padded);
    chunks follow ``showerdata.chunk-bytes``.
    """
    _run(
        "cluster",
        args,
        overwrite=getattr(args, "overwrite", True),
        chunk_size=None,
        batch_size=getattr(args, "batch_size", None),
    )


# -- shift ----------------------------------------------------------------------------


def add_shift_arguments(parser: argparse.ArgumentParser) -> None:
    """Add 0.7's arguments of the ``shift`` command to ``parser``."""
    parser.add_argument("input_file", type=str, help="Path to the input HDF5 file")
    parser.add_argument("output_file", type=str, help="Path to the output HDF5 file")
    parser.add_argument(
        "-i", "--inverse", action="store_true", help="Undo the shower shifting"
    )


def parse_shift_arguments(args: list[str] | None = None) -> argparse.Namespace:
    """Parse 0.7's ``shift`` arguments (``sys.argv`` when ``args`` is None)."""
    parser = argparse.ArgumentParser(
        description="Shift showers to undo incident angle effects"
    )
    add_shift_arguments(parser)
    return parser.parse_args(args)


def run_shift(args: argparse.Namespace) -> None:
    """Shift ``args.input_file`` into ``args.output_file`` (0.7's ``main``).

    As in 0.7 an existing output is replaced.
    """
    _run(
        "shift",
        args,
        input=args.input_file,
        output=args.output_file,
        overwrite=getattr(args, "overwrite", True),
    )


# -- shuffle --------------------------------------------------------------------------


def add_shuffle_options(parser: argparse.ArgumentParser) -> None:
    """Add 0.7's arguments of the ``shuffle`` command to ``parser``."""
    parser.add_argument(
        "input_files", nargs="+", help="Paths to one or more input HDF5 files"
    )
    parser.add_argument("output_file", type=str, help="Path to the output HDF5 file")
    parser.add_argument(
        "--seed", type=int, default=None, help="Random seed for shuffling"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="Overwrite output file if it exists"
    )
    parser.add_argument(
        "--test",
        type=int,
        default=None,
        help="Test mode: load only the first N showers from each file",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        help="Number of showers to process in each batch (default: 1000)",
    )
    parser.add_argument(
        "--overwrite-ids",
        action="store_true",
        help="Assign new IDs to showers to avoid conflicts",
    )


def parse_shuffle_arguments(args: list[str] | None = None) -> argparse.Namespace:
    """Parse 0.7's ``shuffle`` arguments (``sys.argv`` when ``args`` is None)."""
    parser = argparse.ArgumentParser(
        description="Shuffle shower data from multiple input files"
    )
    add_shuffle_options(parser)
    return parser.parse_args(args)


def run_shuffle(args: argparse.Namespace) -> None:
    """Shuffle ``args.input_files`` into ``args.output_file`` (0.7's ``main``).

    Out of core, as our ``showerdata shuffle``: the order for a given seed is
    not 0.7's (see :func:`showerdata.shuffle.create_shuffled_indices` for
    that).
    """
    _run(
        "shuffle",
        args,
        chunk_size=None,
        batch_size=getattr(args, "batch_size", None),
    )
