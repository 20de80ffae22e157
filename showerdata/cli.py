"""The ``showerdata`` command line.

The processing commands of showerdata 0.7 (``shuffle``, ``add-observables``,
``shift``, ``cluster``, ``filter``) keep their arguments and flags; every
command that computes also takes the execution options of
:mod:`showerdata.execution` (``--workers``, ``--threads``, ``--scheduler``,
``--chunk-size``, ``--seed``). Outputs are written in the format their path
names (``.zarr``: a zarr store, otherwise HDF5), never partially: a failed
command leaves no output behind and keeps a file it was asked to replace.

Mistakes (missing inputs, an existing output without ``--overwrite``, bad data,
an unreachable scheduler) are reported as one line on stderr with exit status 1;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ._version import __version__
from .execution import Execution, ExecutionOptions, execution
from .inspection import describe_file, verify_file
from .replacing import remove


class CommandError(Exception):
    """A mistake in a command's arguments, reported as one line."""


# -- shared checks and helpers --------------------------------------------------------


def _options(args: argparse.Namespace) -> ExecutionOptions:
    return ExecutionOptions(
        workers=getattr(args, "workers", None),
        threads=getattr(args, "threads", None),
        scheduler=getattr(args, "scheduler", None),
        chunk_size=getattr(args, "chunk_size", None),
        seed=getattr(args, "seed", None),
        progress=not args.quiet,
    )


def _input_files(paths: Iterable[str]) -> list[str]:
    """The files inputs name: globs, directories and index files expanded."""
    from .io.index import read_index
    from .io.inputs import expand_inputs, is_index, is_many

    files: list[str] = []
    for path in paths:
        if is_index(path):
            entries, _, _ = read_index(path)
            files.extend(entry.location for entry in entries)
        elif is_many(path):
            files.extend(expand_inputs(path))
        else:
            files.append(path)
    return files


def _check_inputs(paths: Iterable[str]) -> None:
    """Fail before any work if an input is missing, unreadable, or (listed in an
    index) changed since the index was written."""
    from .io.index import read_index
    from .io.inputs import is_index
    from .io.production_rows import check_unchanged

    for path in paths:
        if is_index(path):
            for entry in read_index(path)[0]:
                check_unchanged(entry)
            continue
        for file in _input_files([path]):
            if "://" in file:
                continue  # an object store: opening it says what is wrong
            if not os.path.exists(file):
                raise FileNotFoundError(f"No such shower file: '{file}'")
            if not os.access(file, os.R_OK):
                raise PermissionError(f"cannot read '{file}': permission denied")


def _single_input(path: str, command: str) -> None:
    """Refuse a production where a command writes into its one input file."""
    from .io.inputs import is_many

    if is_many(path):
        raise CommandError(
            f"{command} writes into one file; '{path}' names several (run it on "
            "each file)."
        )


def _check_output(
    path: str, overwrite: bool, inputs: Iterable[str] = (), resume: bool = False
) -> None:
    """Fail before any work if ``path`` may not or cannot be written.

    ``resume`` (an output pattern only): files of the pattern may exist; the
    save keeps those that are complete.
    """
    from .io.patterns import check_pattern, existing_parts, index_path, is_pattern

    if resume and not is_pattern(path):
        raise CommandError(
            f"--resume applies to an output pattern like 'out/part-{{:05d}}.h5', "
            f"not '{path}'."
        )
    if "://" in path:
        return  # an object store: the save checks it
    pattern = is_pattern(path)
    if pattern:
        # The save checks every file of the pattern against the inputs
        # before it writes any; here the first, and what is there already.
        check_pattern(path)
        there = [*dict(sorted(existing_parts(path).items())).values(), index_path(path)]
        there = [p for p in there if os.path.exists(p)]
        if there and not (overwrite or resume):
            raise FileExistsError(
                f"{there[0]} already exists; use --overwrite to replace the files "
                "of the pattern."
            )
        path, overwrite = path.format(0), True
    for source in _input_files(inputs):
        if "://" in source:
            continue
        if os.path.exists(path) and os.path.samefile(source, path):
            raise CommandError(
                f"the output '{path}' is also an input; write to another path."
            )
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; use --overwrite to replace it.")
    parent = os.path.dirname(os.path.abspath(path))
    if not pattern and not os.path.isdir(parent):  # a pattern's is made by the save
        raise FileNotFoundError(
            f"cannot write '{path}': directory '{parent}' does not exist."
        )


def _carried_metadata(paths: Sequence[str]) -> dict[str, Any]:
    """Root attributes every input has with the same value, as ``save`` writes them.

    (Loaded showers carry them as ``attrs``; a shuffle reads no ``Showers``.)
    """
    from .attributes import attrs_from_file, attrs_to_write, shared_attributes
    from .io.api import load_metadata

    each = (attrs_from_file(load_metadata(path)) for path in paths)
    return attrs_to_write(shared_attributes(each))


def _save(run: Execution, showers: Any, args: argparse.Namespace) -> None:
    """Stream ``showers`` to ``args.output``, their ``attrs`` as its attributes.

    To a pattern, every file gets the attributes before it appears, and
    ``--resume`` keeps the files already complete.
    """
    from .io.api import save
    from .io.patterns import is_pattern

    save(
        showers,
        args.output,
        overwrite=args.overwrite,
        progress=run.progress,
        resume=args.resume and is_pattern(args.output),
        showers_per_file=args.showers_per_file,
    )


def _set_metadata(output: str, metadata: dict[str, Any]) -> None:
    from .io.api import add_metadata

    if not metadata:
        return
    try:
        add_metadata(output, metadata)
    except BaseException:
        # A file without its attributes would mislead.
        remove(output, ignore_errors=True)
        raise


def _note(message: str) -> None:
    print(message, file=sys.stderr)


# -- 0.7 commands -----------------------------------------------------------------


def _shuffle(args: argparse.Namespace) -> int:
    from .io.backends import is_zarr
    from .shuffle import shuffle_files, shuffle_sources

    output = args.output_file
    _check_inputs(args.input_files)
    inputs = _input_files(args.input_files)
    _check_output(output, args.overwrite, inputs)
    shuffle_sources(inputs, args.test)  # incompatible inputs: fail before work
    if args.seed is None:
        # Draw one we can print, so the order can be reproduced.
        args.seed = secrets.randbelow(2**32)
        _note(f"shuffle seed: {args.seed} (pass --seed {args.seed} to repeat)")
    if not any(is_zarr(path) for path in (*inputs, output)) and (
        args.workers or args.scheduler
    ):
        # HDF5 to HDF5 copies stored rows in this process (one writer, I/O
        # bound): a cluster would only cost its start-up.
        _note("showerdata: note: an HDF5 to HDF5 shuffle runs in this process.")
        args.workers = args.scheduler = None
    with execution(_options(args)) as run:
        count = shuffle_files(
            inputs,
            output,
            seed=args.seed,
            overwrite=args.overwrite,
            overwrite_ids=args.overwrite_ids,
            max_showers_per_file=args.test,
            chunks=run.chunk_size,
            progress=run.progress,
        )
        _set_metadata(output, _carried_metadata(inputs))
    print(run.summary(count, f"shuffled into {output}"))
    return 0


def _add_observables(args: argparse.Namespace) -> int:
    from .detector import get_test_geometry
    from .io.api import get_file_shape
    from .observables import add_observables_to_file

    path = args.filename
    _single_input(path, "add-observables")
    _check_inputs([path])
    count = get_file_shape(path)[0]
    geometry = None
    if args.num_layers:
        geometry = get_test_geometry(args.num_layers, args.threshold)
    elif args.threshold:
        _note(
            "showerdata: warning: --threshold is ignored without --num-layers; the "
            "thresholds of the file's detector apply."
        )
    with (
        execution(_options(args)) as run,
        run.chunking_for(path),
        run.task_progress("observables"),
    ):
        add_observables_to_file(
            path, overwrite=args.overwrite, detector_config=geometry
        )
    print(run.summary(count, f"observables added to {path}"))
    return 0


def _derive(
    args: argparse.Namespace, build: Callable[[Execution, Any], Any], what: str
) -> int:
    """Read ``args.input``, transform it lazily, stream it to ``args.output``.

    The input's attributes travel as the showers' ``attrs``, with what the
    operation added (e.g. ``clustered_for``).
    """
    _check_inputs([args.input])
    _check_output(args.output, args.overwrite, [args.input], args.resume)
    with execution(_options(args)) as run:
        showers = build(run, run.load(args.input))
        _save(run, showers, args)
    print(run.summary(len(showers), f"{what} into {args.output}"))
    return 0


def _shift(args: argparse.Namespace) -> int:
    from .ops.shifting import shift

    def build(run: Execution, showers: Any) -> Any:
        return shift(showers, inverse=args.inverse)

    return _derive(args, build, "unshifted" if args.inverse else "shifted")


def _cluster(args: argparse.Namespace) -> int:
    from .detector import get_ILD_geometry
    from .ops.clustering import cluster

    geometry = get_ILD_geometry()
    if args.processes is not None and args.processes > 1:
        if args.workers is not None and args.workers != args.processes:
            raise CommandError("--processes is --workers: give one of them.")
        args.workers = args.processes

    def build(run: Execution, showers: Any) -> Any:
        return cluster(
            showers,
            random_shift=not args.no_random_shift,
            detector_config=geometry,
            seed=run.seed,
        )

    return _derive(args, build, "clustered")


def _filter(args: argparse.Namespace) -> int:
    from .filter import get_detector_thresholds
    from .ops.filtering import filter_showers

    if args.use_detector_thresholds:
        _check_inputs([args.input])
        ecal, hcal, layers = get_detector_thresholds(args.input)
        _note(
            f"detector thresholds: ECAL {ecal * 1e3:.2f} MeV, HCAL {hcal * 1e3:.2f} "
            f"MeV, {layers} ECAL layers"
        )
    else:  # given in MeV, as in 0.7
        ecal, hcal, layers = args.ecal_threshold / 1e3, args.hcal_threshold / 1e3, 30

    def build(run: Execution, showers: Any) -> Any:
        return filter_showers(showers, args.radius, ecal, hcal, layers)

    return _derive(args, build, "filtered")


# -- our commands ------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from .demo import clean_demo, run_demo

    if args.clean:
        clean_demo(args.output)
        return 0
    with execution(_options(args)) as run, run.chunking(args.max_points, 5):
        run_demo(
            args.output, args.showers, args.max_points, args.seed, run.progress, run
        )
    return 0


def _generate(args: argparse.Namespace) -> int:
    from .toy import toy_showers

    _check_output(args.output, args.overwrite, resume=args.resume)
    with execution(_options(args)) as run:
        showers = toy_showers(
            args.showers,
            chunks=run.chunk_size,
            seed=args.seed,
            max_points=args.max_points,
            num_features=args.features,
            pdg=args.pdg,
        )
        _save(run, showers, args)
    print(run.summary(args.showers, f"generated {args.output}"))
    return 0


def _index(args: argparse.Namespace) -> int:
    from .io.index import write_index

    _check_inputs(args.inputs)
    _check_output(args.output, True)
    count = write_index(
        args.inputs if len(args.inputs) > 1 else args.inputs[0], args.output
    )
    print(f"indexed {count:,} files into {args.output}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from .io.api import get_file_length
    from .io.convert import convert
    from .io.patterns import index_path, is_pattern

    if not is_pattern(args.destination):
        _single_input(args.source, "convert")
    _check_inputs([args.source])
    _check_output(args.destination, args.overwrite, [args.source], args.resume)
    with execution(_options(args)) as run, run.chunking_for(args.source):
        convert(
            args.source,
            args.destination,
            overwrite=args.overwrite,
            progress=run.progress,
            showers_per_file=args.showers_per_file,
            resume=args.resume,
        )
    written = args.destination
    if is_pattern(written):
        written = index_path(written)
    count = get_file_length(written)
    print(run.summary(count, f"converted into {args.destination}"))
    return 0


def _info(args: argparse.Namespace) -> int:
    _check_inputs(args.paths)
    for path in _input_files(args.paths):
        print(describe_file(path))
    return 0


def _verify(args: argparse.Namespace) -> int:
    _check_inputs(args.paths)
    with execution(_options(args)) as run:
        total = 0
        for path in _input_files(args.paths):
            report = verify_file(path, run)
            total += report.num_showers
            print(report.line())
    print(run.summary(total, "verified"))
    return 0


def _precompile(args: argparse.Namespace) -> int:
    from .precompile import precompile

    print(precompile().line())
    return 0


def _plot(args: argparse.Namespace) -> int:
    from .plot import plot_productions

    _check_inputs(args.inputs)
    _check_output(args.output, args.overwrite, args.inputs)
    if args.labels is not None and len(args.labels) != len(args.inputs):
        raise CommandError(
            f"--labels needs one label per input ({len(args.inputs)}), got "
            f"{len(args.labels)}."
        )
    with execution(_options(args)) as run:
        total = plot_productions(
            args.inputs,
            args.output,
            run,
            labels=args.labels,
            max_showers=args.max_showers,
        )
    print(run.summary(total, f"plotted into {args.output}"))
    return 0


# -- parser ----------------------------------------------------------------------


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: given after the command it sets the flag, otherwise it leaves
    # the value given before the command alone.
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    return common


def _execution_options(batch_size_alias: bool = False) -> argparse.ArgumentParser:
    group_parser = argparse.ArgumentParser(add_help=False)
    group = group_parser.add_argument_group("execution")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="run on a local cluster of N worker processes",
    )
    where.add_argument(
        "--threads", type=int, metavar="N", help="run on N local threads"
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the dask cluster whose scheduler listens at ADDRESS",
    )
    flags = ["--chunk-size"]
    if batch_size_alias:
        flags.append("--batch-size")  # 0.7's name: showers processed together
    group.add_argument(
        *flags,
        dest="chunk_size",
        type=int,
        metavar="N",
        help="showers per chunk (default: about 64 MiB of padded points)",
    )
    group.add_argument(
        "--seed", type=int, help="seed of the random steps (shuffle order, grid shifts)"
    )
    return group_parser


def _add_shuffle(commands: Any, common: argparse.ArgumentParser) -> None:
    shuffle = commands.add_parser(
        "shuffle",
        parents=[common, _execution_options(batch_size_alias=True)],
        help="shuffle the showers of several files into one",
        description=(
            "Write the showers of all inputs to one file in a seeded random order, "
            "out of core: memory stays at a few chunks whatever the file sizes."
        ),
    )
    shuffle.add_argument(
        "input_files",
        nargs="+",
        help="shower files to shuffle (globs, directories and index files too)",
    )
    shuffle.add_argument("output_file", help="file to write")
    shuffle.add_argument(
        "--overwrite", action="store_true", help="replace the output if it exists"
    )
    shuffle.add_argument(
        "--test",
        type=int,
        metavar="N",
        help="test mode: use only the first N showers of each file",
    )
    shuffle.add_argument(
        "--overwrite-ids",
        action="store_true",
        help="number the showers 0..N-1 in output order, so ids from different "
        "inputs cannot clash",
    )
    shuffle.set_defaults(run=_shuffle)


def _add_add_observables(commands: Any, common: argparse.ArgumentParser) -> None:
    observables = commands.add_parser(
        "add-observables",
        parents=[common, _execution_options()],
        help="compute the observables of a file and store them in it",
    )
    observables.add_argument("filename", help="shower file to add observables to")
    observables.add_argument(
        "-b",
        "--batch-size",
        dest="chunk_size",
        type=int,
        metavar="N",
        help="showers per chunk (as --chunk-size)",
    )
    observables.add_argument(
        "-l",
        "--num-layers",
        type=int,
        default=0,
        help="number of layers of a simple test detector; default (0): the "
        "detector named by the file",
    )
    observables.add_argument(
        "-t",
        "--threshold",
        type=float,
        default=0.0,
        help="hit energy threshold [MeV] of the test detector (with --num-layers)",
    )
    observables.add_argument(
        "--overwrite", action="store_true", help="replace existing observables"
    )
    observables.set_defaults(run=_add_observables)


def _add_derived(
    commands: Any,
    common: argparse.ArgumentParser,
    name: str,
    help_text: str,
    batch_size_alias: bool = False,
) -> argparse.ArgumentParser:
    command = commands.add_parser(
        name,
        parents=[common, _execution_options(batch_size_alias)],
        help=help_text,
    )
    command.add_argument("input", help="shower file to read")
    command.add_argument("output", help=f"file to write, {PATTERN_HELP}")
    command.add_argument(
        "--overwrite", action="store_true", help="replace the output if it exists"
    )
    _add_pattern_options(command)
    return command


#: How the help of a command that writes describes an output pattern.
PATTERN_HELP = (
    "or a pattern like 'out/part-{:05d}.h5' (.zarr: stores): one file per group "
    "of chunks, written in parallel, and an index beside them"
)


def _add_pattern_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--showers-per-file",
        type=int,
        default=None,
        metavar="N",
        help="with an output pattern: at most N showers per file (whole chunks; "
        "default about 1 GiB of padded showers)",
    )
    command.add_argument(
        "--resume",
        action="store_true",
        help="with an output pattern: finish an interrupted run, keeping the files "
        "it completed",
    )


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``showerdata`` command."""
    main = argparse.ArgumentParser(
        prog="showerdata", description="Store, inspect and process shower files."
    )
    main.add_argument(
        "-v", "--version", action="version", version=f"%(prog)s {__version__}"
    )
    main.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = main.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common_options()

    _add_shuffle(commands, common)
    _add_add_observables(commands, common)

    shift = _add_derived(
        commands, common, "shift", "shift showers to undo incident-angle effects"
    )
    shift.add_argument(
        "-i", "--inverse", action="store_true", help="redo the shift instead"
    )
    shift.set_defaults(run=_shift)

    cluster = _add_derived(
        commands,
        common,
        "cluster",
        "cluster hits into the readout cells of a regular grid (ILD)",
        batch_size_alias=True,
    )
    cluster.add_argument(
        "--no-random-shift",
        action="store_true",
        help="do not shift the grid randomly per shower",
    )
    cluster.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="parallel processes (as --workers; 1: no parallelism)",
    )
    cluster.set_defaults(run=_cluster)

    filter_ = _add_derived(
        commands, common, "filter", "keep hits inside a cylinder and above thresholds"
    )
    filter_.add_argument(
        "-r",
        "--radius",
        type=float,
        default=float("inf"),
        help="radius [mm] of the cylinder around the shower axis",
    )
    filter_.add_argument(
        "--ecal-threshold", type=float, default=0.0, help="ECAL hit threshold [MeV]"
    )
    filter_.add_argument(
        "--hcal-threshold", type=float, default=0.0, help="HCAL hit threshold [MeV]"
    )
    filter_.add_argument(
        "-d",
        "--use-detector-thresholds",
        action="store_true",
        help="use the thresholds of the detector the file names",
    )
    filter_.set_defaults(run=_filter)

    info = commands.add_parser("info", parents=[common], help="summarise shower files")
    info.add_argument("paths", nargs="+", metavar="path")
    info.set_defaults(run=_info)

    verify = commands.add_parser(
        "verify",
        parents=[common, _execution_options()],
        help="read and check every shower of files",
        description="Read every chunk of each file with all data checks; exit "
        "with status 1 at the first problem, naming file, dataset and shower.",
    )
    verify.add_argument("paths", nargs="+", metavar="path")
    verify.set_defaults(run=_verify)

    plot = commands.add_parser(
        "plot",
        parents=[common, _execution_options()],
        help="plot observables of productions side by side (PNG)",
        description="Energy per layer, radial profile, points per shower, visible "
        "vs incident energy and centre of energy of each input, overlaid. Needs "
        "matplotlib (pip install 'showerdata[plots]').",
    )
    plot.add_argument("inputs", nargs="+", metavar="input", help="shower files")
    plot.add_argument(
        "-o", "--output", default="observables.png", help="PNG file to write"
    )
    plot.add_argument(
        "--labels", nargs="+", metavar="LABEL", help="legend labels, one per input"
    )
    plot.add_argument(
        "--max-showers",
        type=int,
        metavar="N",
        help="use the first N showers of each input",
    )
    plot.add_argument(
        "--overwrite", action="store_true", help="replace the output if it exists"
    )
    plot.set_defaults(run=_plot)

    precompile = commands.add_parser(
        "precompile",
        parents=[common],
        help="compile every numba kernel into numba's cache, ahead of time",
        description="Run every operation on a small toy production so that each "
        "kernel is compiled once into numba's on-disk cache (NUMBA_CACHE_DIR, "
        "else next to the kernels, else numba's per-user cache). Run it after "
        "installing, with the NUMBA_CACHE_DIR the jobs will use.",
    )
    precompile.set_defaults(run=_precompile)

    generate = commands.add_parser(
        "generate",
        parents=[common, _execution_options()],
        help="write a seeded toy production",
    )
    generate.add_argument("output", help=f"file to write, {PATTERN_HELP}")
    generate.add_argument("--showers", type=int, default=10_000)
    generate.add_argument("--max-points", type=int, default=2000)
    generate.add_argument("--features", type=int, choices=(4, 5), default=5)
    generate.add_argument("--pdg", type=int, default=22)
    generate.add_argument("--overwrite", action="store_true")
    _add_pattern_options(generate)
    generate.set_defaults(run=_generate, seed=0)

    index = commands.add_parser(
        "index",
        parents=[common],
        help="write an index of a production's files, to open it without reading them",
        description="Read the header of every file (length, P, F, attributes, size "
        "and modification time) and write them to a JSON index: load('prod.index."
        "json') then opens the production without touching its files, and a file "
        "changed since is refused when read.",
    )
    index.add_argument(
        "inputs", nargs="+", metavar="input", help="files, globs or directories"
    )
    index.add_argument(
        "-o", "--output", required=True, help="index file to write (a .json file)"
    )
    index.set_defaults(run=_index)

    convert = commands.add_parser(
        "convert",
        parents=[common, _execution_options()],
        help="convert between HDF5 and zarr (the format follows the path)",
    )
    convert.add_argument(
        "source", help="file or store to read (to a pattern: or a production)"
    )
    convert.add_argument(
        "destination", help=f"path to write; .zarr: a zarr store; {PATTERN_HELP}"
    )
    convert.add_argument(
        "--overwrite", action="store_true", help="replace the destination"
    )
    _add_pattern_options(convert)
    convert.set_defaults(run=_convert)

    demo = commands.add_parser(
        "demo",
        parents=[common, _execution_options()],
        help="run the main job on a toy production",
    )
    demo.add_argument("--output", default="demo-output", help="output directory")
    demo.add_argument("--showers", type=int, default=20_000)
    demo.add_argument("--max-points", type=int, default=2000)
    demo.add_argument(
        "--clean",
        action="store_true",
        help="remove the files an earlier demo wrote into --output, and nothing else",
    )
    demo.set_defaults(run=_demo, seed=42)
    return main


def _message(error: BaseException) -> str:
    if isinstance(error, KeyError) and error.args and type(error) is KeyError:
        return str(error.args[0])
    text = str(error).strip() or type(error).__name__
    expected = (
        OSError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        ImportError,
        CommandError,
    )
    if not isinstance(error, expected):
        # Not a mistake we foresaw: say what it is.
        text = f"{type(error).__name__}: {text} (--debug shows the traceback)"
    return text.splitlines()[0] if text else text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return args.run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("showerdata: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(f"showerdata: error: {_message(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
