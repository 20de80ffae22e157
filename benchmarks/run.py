"""Benchmarks of showerdata against showerdata 0.7.0, measured in the same run.

Usage::

    SHOWERDATA_V07_PYTHON=.venv-v07/bin/python .venv/bin/python benchmarks/run.py
    .venv/bin/python benchmarks/run.py --quick            # small smoke run
    .venv/bin/python benchmarks/run.py --only load_full --repeat 5

Every measurement runs in a fresh interpreter: ours (the one running this
script) or showerdata 0.7.0 (``$SHOWERDATA_V07_PYTHON``, default
``.venv-v07/bin/python``). The child times only the operation; the runner
takes the median over ``--repeat`` runs and the child's peak RSS from
:func:`os.wait4`. Data files are generated once under ``benchmarks/data/``.
Results go to ``benchmarks/results.md`` and ``.json`` (``results-quick.*`` for
``--quick``). Missed targets are marked MISS but do not fail the run; the exit
code is 1 only if a measurement crashed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cases import Case, Check, GiB, MiB, Side, build_cases
from child import ChildError, ChildResult, run_child
from workloads import DataSpec, dataset_for, ensure

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
SCRATCH_DIR = DATA_DIR / "scratch"
#: What our interpreter's children import ``showerdata`` from: this checkout.
OURS_PATH = str(REPO)


# -- command line ----------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small files and one repeat: a smoke run of every case",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this case (repeatable, or comma-separated)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="timed runs per side (default 5; 1 with --quick)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="markdown report (default benchmarks/results.md, or "
        "results-quick.md with --quick); the JSON goes next to it",
    )
    parser.add_argument(
        "--previous",
        type=Path,
        default=None,
        help="results JSON whose ratios the report compares with (default: the "
        "JSON this run replaces)",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 1 if args.quick else 5  # this VM is noisy: 5 medians hold
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.out is None:
        args.out = BENCH_DIR / ("results-quick.md" if args.quick else "results.md")
    if args.previous is None:
        args.previous = args.out.with_suffix(".json")
    return args


# -- interpreters and machine ----------------------------------------------------

# The versions the report lists, for each interpreter (those installed).
REPORTED_PACKAGES = ("numpy", "h5py", "dask", "distributed", "zarr", "numba")

PROBE_OURS = """
import importlib.metadata as md
import platform
import showerdata
emit(
    version=showerdata.__version__,
    file=showerdata.__file__,
    python=platform.python_version(),
    packages={name: md.version(name) for name in PARAMS["packages"]},
    available={name: hasattr(showerdata, name) for name in PARAMS["names"]},
)
"""

PROBE_V07 = """
import importlib.metadata as md
import platform
import showerdata
packages = {}
for name in PARAMS["packages"]:
    try:
        packages[name] = md.version(name)
    except md.PackageNotFoundError:
        pass
emit(
    version=showerdata.__version__,
    file=showerdata.__file__,
    python=platform.python_version(),
    packages=packages,
)
"""

# Peak RSS of an interpreter that only imports the package: the floor under
# every RSS in the table.
IMPORT_ONLY = """
import showerdata
emit(seconds=0.0)
"""


def v07_interpreter() -> str | None:
    """showerdata 0.7.0's interpreter, if one is configured and exists."""
    python = os.environ.get("SHOWERDATA_V07_PYTHON") or str(
        REPO / ".venv-v07" / "bin" / "python"
    )
    return python if os.path.exists(python) else None


def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU model, OS and Python of this machine."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    try:
        meminfo = Path("/proc/meminfo").read_text().splitlines()
        total_kib = int(next(x for x in meminfo if x.startswith("MemTotal")).split()[1])
        info["ram_gib"] = round(total_kib / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        info["ram_gib"] = None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(x for x in cpuinfo if x.startswith("model name"))
        info["cpu"] = model.split(":", 1)[1].strip()
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "unknown"
    return info


# -- measurements ---------------------------------------------------------------


@dataclass
class SideResult:
    """All runs of one side of a case."""

    side: Side
    runs: list[ChildResult] = field(default_factory=list)
    warmup: ChildResult | None = None
    error: str | None = None
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the side has measurements and no error."""
        return self.error is None and self.skipped is None and bool(self.runs)

    @property
    def seconds(self) -> list[float]:
        """Timed seconds of every run."""
        return [float(r.values["seconds"]) for r in self.runs]

    @property
    def median_seconds(self) -> float:
        """Median time over the runs."""
        return statistics.median(self.seconds)

    @property
    def peak_rss(self) -> int:
        """Largest peak RSS over the runs, in bytes."""
        return max(r.peak_rss_bytes for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        """The side's results for results.json."""
        out: dict[str, Any] = {
            "label": self.side.label,
            "interpreter": self.side.interpreter,
            "params": {k: v for k, v in self.side.params.items() if k != "indices"},
            "error": self.error,
            "skipped": self.skipped,
        }
        if self.ok:
            out.update(
                median_seconds=self.median_seconds,
                min_seconds=min(self.seconds),
                max_seconds=max(self.seconds),
                peak_rss_bytes=self.peak_rss,
                runs=[
                    {**r.values, "peak_rss_bytes": r.peak_rss_bytes} for r in self.runs
                ],
            )
        if self.warmup is not None:
            out["warmup"] = {
                **self.warmup.values,
                "peak_rss_bytes": self.warmup.peak_rss_bytes,
            }
        return out


@dataclass
class CaseResult:
    """The sides of one case and whether their fingerprints agree."""

    case: Case
    sides: dict[str, SideResult]
    skipped: str | None = None

    def fingerprint_problem(self) -> str | None:
        """A message if sides report different ``points`` (they did other work)."""
        seen = {
            key: {r.values["points"] for r in result.runs if "points" in r.values}
            for key, result in self.sides.items()
            if result.ok
        }
        values = set().union(*seen.values()) if seen else set()
        if len(values) > 1:
            return "sides disagree on the number of points handled: " + ", ".join(
                f"{key}={sorted(v)}" for key, v in seen.items()
            )
        return None


def log(message: str) -> None:
    """Progress on stderr, so stdout carries only the table."""
    print(message, file=sys.stderr, flush=True)


def clean_scratch() -> None:
    """Remove outputs (and partial files) the previous run left in the scratch dir."""
    for path in SCRATCH_DIR.glob("*"):
        if path.is_dir():  # zarr stores
            shutil.rmtree(path)
        else:
            path.unlink()


def run_once(
    case: Case, side: Side, python: str, tag: str, timeout: float
) -> ChildResult:
    """One child run of ``side``, with a fresh scratch output path."""
    out = SCRATCH_DIR / f"{case.name}-{side.key}-{tag}.h5"
    params = {**side.params, "out": str(out)}
    try:
        return run_child(
            python,
            side.code,
            params,
            cwd=DATA_DIR,
            timeout=timeout,
            pythonpath=OURS_PATH if side.interpreter == "ours" else None,
        )
    finally:
        clean_scratch()


def run_case(
    case: Case,
    pythons: dict[str, str | None],
    repeat: int,
    timeout: float,
) -> CaseResult:
    """Warm up, then run every side ``repeat`` times, interleaving the sides."""
    results = {side.key: SideResult(side) for side in case.sides}
    for side in case.sides:
        if pythons.get(side.interpreter) is None:
            results[side.key].skipped = f"no {side.interpreter} interpreter"
    active = [s for s in case.sides if results[s.key].skipped is None]
    rounds = ["warmup"] if case.warmup else []
    rounds += [f"run{i + 1}" for i in range(repeat)]
    for tag in rounds:
        for side in active:
            result = results[side.key]
            if result.error is not None:
                continue
            python = pythons[side.interpreter]
            assert python is not None
            try:
                child = run_once(case, side, python, tag, timeout)
            except ChildError as error:
                result.error = str(error)
                log(f"  {case.name:<18} {side.key:<6} {tag:<7} ERROR\n{error}")
                continue
            seconds = float(child.values["seconds"])
            log(
                f"  {case.name:<18} {side.key:<6} {tag:<7} {seconds:9.4f} s  "
                f"peak RSS {child.peak_rss_bytes / MiB:8.0f} MiB  "
                f"(process {child.wall_seconds:.1f} s)"
            )
            if tag == "warmup":
                result.warmup = child
            else:
                result.runs.append(child)
    return CaseResult(case, results)


# -- report ----------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table: a case's check."""

    case: str
    comparison: str
    ours_s: float | None
    ref_s: float | None
    measured: str
    target: str
    result: str
    rss_ours: int | None
    rss_ref: int | None
    value: float | None = None

    def cells(self) -> list[str]:
        """The row as table cells."""
        mark = f"**{self.result}**" if self.result in ("MISS", "ERROR") else self.result
        return [
            self.case,
            self.comparison,
            _seconds(self.ours_s),
            _seconds(self.ref_s),
            self.measured,
            self.target,
            mark,
            _mib(self.rss_ours),
            _mib(self.rss_ref),
        ]


HEADER = [
    "case",
    "comparison",
    "ours [s]",
    "ref [s]",
    "measured",
    "target",
    "result",
    "peak RSS ours",
    "peak RSS ref",
]


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if value < 0.1 else f"{value:.3f}"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MiB:,.0f} MiB"


def evaluate(check: Check, result: CaseResult) -> Row:
    """The table row of one check."""
    row = Row(
        case=result.case.name,
        comparison=check.label,
        ours_s=None,
        ref_s=None,
        measured="-",
        target=check.target_text,
        result="n/a",
        rss_ours=None,
        rss_ref=None,
    )
    if result.skipped:
        row.result = "SKIPPED"
        return row
    ours = result.sides[check.ours]
    ref = result.sides.get(check.reference) if check.reference else None
    if ours.ok:
        row.ours_s, row.rss_ours = ours.median_seconds, ours.peak_rss
    if ref is not None and ref.ok:
        row.ref_s, row.rss_ref = ref.median_seconds, ref.peak_rss
    if ours.error or (ref is not None and ref.error):
        row.result = "ERROR"
        return row
    if check.kind == "peak_rss":
        if ours.ok:
            row.value = ours.peak_rss / GiB
            row.measured = f"RSS {row.value:.2f} GiB"
            row.result = "PASS" if ours.peak_rss <= check.limit else "MISS"
        return row
    if check.kind == "speedup":
        if ours.ok and ref is not None and ref.ok:
            row.value = ref.median_seconds / ours.median_seconds
            row.measured = f"speed-up {row.value:.2f}"
            row.result = "PASS" if row.value >= check.limit else "MISS"
        return row
    if check.kind == "margin":
        if ours.ok and ref is not None and ref.ok:
            row.value = ours.median_seconds - ref.median_seconds
            row.measured = f"{row.value * 1000:+.0f} ms"
            row.result = "PASS" if row.value <= check.limit else "MISS"
        return row
    if check.kind == "rss_margin":
        if ours.ok and ref is not None and ref.ok:
            row.value = (ours.peak_rss - ref.peak_rss) / MiB
            row.measured = f"RSS {row.value:+.0f} MiB"
            row.result = (
                "PASS" if ours.peak_rss <= ref.peak_rss + check.limit else "MISS"
            )
        return row
    if check.kind == "seconds":
        if ours.ok:
            row.value = ours.median_seconds
            row.measured = f"{row.value * 1000:.2f} ms"
            row.result = "PASS" if row.value <= check.limit else "MISS"
        return row
    if ours.ok and ref is not None and ref.ok:
        row.value = ours.median_seconds / ref.median_seconds
        row.measured = f"ratio {row.value:.2f}"
        row.result = "PASS" if row.value <= check.limit else "MISS"
    return row


def markdown_table(rows: list[Row]) -> str:
    """The rows as a markdown table."""
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def side_details(result: SideResult) -> str:
    """One markdown bullet with every run of a side."""
    if result.skipped:
        return f"- {result.side.label}: skipped ({result.skipped})"
    if result.error:
        first = result.error.strip().splitlines()[-1] if result.error.strip() else ""
        return f"- {result.side.label}: **ERROR** {first}"
    runs = ", ".join(f"{s:.4f}" for s in result.seconds)
    extras = []
    for key in ("cpu", "first", "slowest", "warm_median", "chunks"):
        values = [r.values[key] for r in result.runs if key in r.values]
        if values:
            shown = [f"{v:.4f}" if isinstance(v, float) else str(v) for v in values]
            extras.append(f"{key} {', '.join(shown)}")
    warm = ""
    if result.warmup is not None:
        warm = f"; warm-up {float(result.warmup.values['seconds']):.4f} s"
    extra = f"; {'; '.join(extras)}" if extras else ""
    return (
        f"- {result.side.label}: runs [s] {runs} (median "
        f"{result.median_seconds:.4f}); peak RSS {_mib(result.peak_rss)}"
        f"{warm}{extra}"
    )


def versions_table(ours: dict[str, Any], v07: dict[str, Any] | None) -> str:
    """Python and package versions of both interpreters, as a markdown table."""
    sides = [("ours", ours)] + ([("reference", v07)] if v07 else [])
    names = list(REPORTED_PACKAGES)
    header = ["", "python", "showerdata", *names]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for label, probe in sides:
        packages = probe.get("packages", {})
        cells = [
            label,
            probe.get("python", "?"),
            probe["version"],
            *(packages.get(name, "-") for name in names),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: A ratio more than this factor above the previous run's is flagged.
REGRESSION_FACTOR = 1.1


def previous_results(path: Path) -> dict[str, Any] | None:
    """Date and time ratios of a results JSON, by ``case / comparison``; or None."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ratios = {
        f"{row['case']} / {row['comparison']}": row["value"]
        for row in report.get("rows", [])
        if row.get("value") is not None and row.get("target", "").startswith("ratio")
    }
    date = report.get("machine", {}).get("date", "?")
    return {"file": path.name, "date": date, "ratios": ratios}


def previous_table(rows: list[Row], previous: dict[str, Any]) -> list[str]:
    """Markdown lines: each time ratio now against the same ratio in ``previous``."""
    lines = [
        "| case | comparison | previous | now | now / previous | |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        before = previous["ratios"].get(f"{row.case} / {row.comparison}")
        if before is None or row.value is None or not row.target.startswith("ratio"):
            continue
        change = row.value / before if before else float("inf")
        mark = f"**over {REGRESSION_FACTOR:g}x**" if change > REGRESSION_FACTOR else ""
        lines.append(
            f"| {row.case} | {row.comparison} | {before:.2f} | {row.value:.2f} | "
            f"{change:.2f} | {mark} |"
        )
    return lines if len(lines) > 2 else []


def outcome_summary(rows: list[Row]) -> str:
    """One sentence: targets met, and which were missed or failed."""
    met = sum(row.result == "PASS" for row in rows)
    text = f"**{met} of {len(rows)} targets met.**"
    for outcome in ("MISS", "ERROR"):
        names = [
            f"{row.case} ({row.comparison})" for row in rows if row.result == outcome
        ]
        if names:
            text += (
                f" {'Missed' if outcome == 'MISS' else 'Errors'}: {', '.join(names)}."
            )
    others = sum(row.result in ("n/a", "SKIPPED") for row in rows)
    if others:
        text += f" Not measured: {others}."
    return text


def render_markdown(
    report: dict[str, Any], rows: list[Row], results: list[CaseResult]
) -> str:
    """The whole results.md."""
    m = report["machine"]
    ours, v07 = report["ours"], report["v07"]
    lines = [
        "# showerdata benchmarks",
        "",
        f"`{report['command']}` — {m['date']}, total run time "
        f"{report['total_seconds']:.0f} s ({report['repeat']} timed run(s) per side"
        f"{', quick' if report['quick'] else ''}). Reproduce with `make bench` "
        "(see `benchmarks/README.md`).",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores; RAM {m['ram_gib']} GiB; "
        f"{m['platform']}",
    ]
    if m.get("load"):
        start, end = m["load"]
        busy = max(start, end) > (m.get("cores") or 1)
        lines.append(
            f"- load average (1 min) at the start and end of the run: {start:.1f}, "
            f"{end:.1f}"
            + (
                " (above the core count: other processes shared the cores; trust "
                "ratios of interleaved sides and CPU seconds over wall times)"
                if busy
                else ""
            )
        )
    if v07:
        lines.append(f"- reference: showerdata {v07['version']} in its own interpreter")
    else:
        lines.append("- reference: showerdata 0.7.0 **not available** (rows n/a)")
    floor = report.get("import_rss", {})
    if floor:
        shown = ", ".join(f"{k} {_mib(v)}" for k, v in floor.items())
        lines.append(
            f"- peak RSS of an interpreter that only imports showerdata: {shown}"
        )
    lines += ["", versions_table(ours, v07)]
    lines += [
        "",
        "## Results",
        "",
        outcome_summary(rows),
        "",
        "ours / ref are medians of the timed runs; `measured` is ours / ref "
        "(a speed-up is ref / ours; or the peak RSS, or the median itself "
        "against a limit in ms); a missed target is marked **MISS**. Peak RSS "
        "is the largest peak resident memory of the side's runs.",
        "",
        markdown_table(rows),
        "",
    ]
    previous = report.get("previous")
    compared = previous_table(rows, previous) if previous else []
    if compared:
        lines += [
            "## Against the previous results",
            "",
            f"Time ratios of the cases also in `{previous['file']}` of "
            f"{previous['date']}; a ratio more than {REGRESSION_FACTOR:g}x its "
            "previous value is flagged.",
            "",
            *compared,
            "",
        ]
    lines += [
        "## Method",
        "",
        "- Every run is a fresh interpreter; the child times only the operation "
        "with `time.perf_counter` (imports and setup such as loading the data to "
        "save are excluded) and the runner reads its peak RSS (`ru_maxrss`) "
        "from `os.wait4`. Peak RSS includes the interpreter and its imports.",
        "- Before the timed runs every side runs once untimed (warm-up): numba "
        "compiles our kernels on first use and caches them on disk (`cache=True`), "
        "so compile time is not measured; loading the cached kernels is. The "
        "warm-up also puts the files in the page cache for both sides alike.",
        "- Sides run interleaved (ours, ref, ours, ref, ...); the times shown "
        "are medians, the RSS the largest of the runs.",
        "- Each side reports the number of real points it handled (read back "
        "from the written file for saves); the runner checks they agree.",
        "",
        "## Data",
        "",
    ]
    for name, info in report["data"].items():
        lines.append(f"- `{name}`: {info}")
    lines += ["", "## Cases", ""]
    for result in results:
        case = result.case
        lines.append(f"### {case.name}")
        lines.append("")
        lines.append(case.summary)
        lines.append("")
        if result.skipped:
            lines += [f"Skipped: {result.skipped}", ""]
            continue
        for note in case.notes:
            lines.append(f"- note: {note}")
        for side in result.sides.values():
            lines.append(side_details(side))
        problem = result.fingerprint_problem()
        if problem:
            lines.append(f"- **WARNING** {problem}")
        lines.append("")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------


def select_cases(cases: list[Case], only: list[str] | None) -> list[Case]:
    """The cases named by ``--only`` (all if not given)."""
    if not only:
        return cases
    names = {n.strip() for item in only for n in item.split(",") if n.strip()}
    known = {c.name for c in cases}
    unknown = names - known
    if unknown:
        raise SystemExit(
            f"unknown case(s) {sorted(unknown)}; available: {sorted(known)}"
        )
    return [c for c in cases if c.name in names]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and write the report; see the module docstring."""
    args = parse_args(argv)
    begin = time.perf_counter()
    previous = previous_results(args.previous)
    load_start = os.getloadavg()[0]
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    SCRATCH_DIR.mkdir(parents=True, exist_ok=True)
    clean_scratch()

    data = dataset_for(args.quick)
    cases = select_cases(build_cases(data, DATA_DIR), args.only)
    if args.list:
        for case in cases:
            print(f"{case.name:<20} {case.summary}")
        return 0

    pythons: dict[str, str | None] = {"ours": sys.executable, "v07": v07_interpreter()}
    needed = sorted({name for case in cases for name in case.requires})
    ours = run_child(
        sys.executable,
        PROBE_OURS,
        {"names": needed, "packages": list(REPORTED_PACKAGES)},
        cwd=DATA_DIR,
        pythonpath=OURS_PATH,
    ).values
    log(f"ours: showerdata {ours['version']} from {ours['file']}")
    v07: dict[str, Any] | None = None
    if pythons["v07"] is not None:
        try:
            v07 = run_child(
                pythons["v07"],
                PROBE_V07,
                {"packages": list(REPORTED_PACKAGES)},
                cwd=DATA_DIR,
            ).values
        except ChildError as error:
            log(f"warning: showerdata 0.7 interpreter unusable: {error}")
        if v07 is not None and v07["version"] != "0.7.0":
            log(f"warning: {pythons['v07']} has showerdata {v07['version']}, not 0.7.0")
            v07 = None
    if v07 is None:
        log("warning: no showerdata 0.7.0 interpreter; reference sides are skipped")
        pythons["v07"] = None
    else:
        log(f"reference: showerdata {v07['version']} from {v07['file']}")

    import_rss = {}
    for key, python in pythons.items():
        if python is not None:
            path = OURS_PATH if key == "ours" else None
            child = run_child(python, IMPORT_ONLY, {}, cwd=DATA_DIR, pythonpath=path)
            import_rss[key] = child.peak_rss_bytes

    specs: dict[str, DataSpec] = {}
    for case in cases:
        for spec in case.data:
            specs[spec.filename] = spec
    data_notes = {}
    for name, spec in specs.items():
        log(f"data: {name} ...")
        path, note = ensure(spec, DATA_DIR, sys.executable, OURS_PATH)
        size = path.stat().st_size
        data_notes[name] = (
            f"{spec.num_showers:,} showers, P = {spec.max_points}, "
            f"F = {spec.num_features}, seed {spec.seed}; "
            f"{size / MiB:,.0f} MiB on disk, "
            f"{spec.padded_bytes / MiB:,.0f} MiB padded; {note}"
        )
        log(f"data: {name}: {note}")

    results: list[CaseResult] = []
    for case in cases:
        missing = [n for n in case.requires if not ours["available"].get(n)]
        if missing:
            results.append(
                CaseResult(case, {}, skipped=f"showerdata lacks {', '.join(missing)}")
            )
            log(f"{case.name}: skipped (showerdata lacks {', '.join(missing)})")
            continue
        log(f"{case.name}: {case.summary}")
        results.append(run_case(case, pythons, args.repeat, timeout=1800.0))

    rows = [evaluate(check, r) for r in results for check in r.case.checks]
    report: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "quick": args.quick,
        "repeat": args.repeat,
        "total_seconds": time.perf_counter() - begin,
        "machine": {**machine_info(), "load": [load_start, os.getloadavg()[0]]},
        "ours": ours,
        "v07": v07,
        "import_rss": import_rss,
        "data": data_notes,
        "previous": previous,
    }
    report["rows"] = [asdict(row) for row in rows]
    report["cases"] = {
        r.case.name: {
            "summary": r.case.summary,
            "skipped": r.skipped,
            "fingerprint_problem": r.fingerprint_problem(),
            "sides": {key: side.to_json() for key, side in r.sides.items()},
        }
        for r in results
    }
    markdown = render_markdown(report, rows, results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")

    print(markdown_table(rows))
    for result in results:
        problem = result.fingerprint_problem()
        if problem:
            print(f"WARNING {result.case.name}: {problem}")
    counts = {
        outcome: [r for r in rows if r.result == outcome]
        for outcome in ("PASS", "MISS", "ERROR", "n/a", "SKIPPED")
    }
    summary = [f"{len(counts['PASS'])} of {len(rows)} targets met"]
    if counts["MISS"]:
        missed = ", ".join(f"{r.case} {r.comparison}" for r in counts["MISS"])
        summary.append(f"MISSED: {missed}")
    for outcome in ("ERROR", "n/a", "SKIPPED"):
        if counts[outcome]:
            summary.append(f"{outcome}: {len(counts[outcome])}")
    summary.append(f"total {report['total_seconds']:.0f} s; report: {args.out}")
    print("\n" + "; ".join(summary))
    errors = counts["ERROR"]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
