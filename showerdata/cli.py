"""The ``showerdata`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._version import __version__


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(args.output, args.showers, args.max_points, args.seed, not args.quiet)
    return 0


def _generate(args: argparse.Namespace) -> int:
    from .io.api import save
    from .toy import toy_showers

    showers = toy_showers(
        args.showers,
        seed=args.seed,
        max_points=args.max_points,
        num_features=args.features,
        pdg=args.pdg,
    )
    save(showers, args.output, overwrite=args.overwrite, progress=not args.quiet)
    return 0


def _info(args: argparse.Namespace) -> int:
    from .io.api import get_file_shape, load, load_metadata

    shape = get_file_shape(args.path)
    num_points = load(args.path).num_points.compute()
    print(f"{args.path}: {shape[0]:,} showers, P = {shape[1]}, F = {shape[2]}")
    if len(num_points):
        print(
            f"points per shower: min {num_points.min()}, mean {num_points.mean():.1f}, "
            f"max {num_points.max()}"
        )
    for key, value in load_metadata(args.path).items():
        print(f"  {key} = {value}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``showerdata`` command."""
    main = argparse.ArgumentParser(
        prog="showerdata", description="Store, inspect and process shower files."
    )
    main.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    main.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = main.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the main job on a toy production")
    demo.add_argument("--output", default="demo-output", help="output directory")
    demo.add_argument("--showers", type=int, default=20_000)
    demo.add_argument("--max-points", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(run=_demo)

    generate = commands.add_parser("generate", help="write a toy production")
    generate.add_argument("output")
    generate.add_argument("--showers", type=int, default=10_000)
    generate.add_argument("--max-points", type=int, default=2000)
    generate.add_argument("--features", type=int, choices=(4, 5), default=5)
    generate.add_argument("--pdg", type=int, default=22)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--overwrite", action="store_true")
    generate.add_argument("--quiet", action="store_true")
    generate.set_defaults(run=_generate)

    info = commands.add_parser("info", help="summarise a shower file")
    info.add_argument("path")
    info.set_defaults(run=_info)
    return main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        if args.debug:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"showerdata: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
