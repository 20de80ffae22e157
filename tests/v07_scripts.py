# ruff: noqa: E501 -- the programs are 0.7 user code, kept as written
"""Programs written for showerdata 0.7, run unchanged under 0.7.0 and under ours.

Each script takes a work directory as ``sys.argv[1]``, builds its inputs there
with plain numpy (no random generator, so both numpy versions give the same
bits), and prints a JSON object: for every step either ``["ok", value]`` (array
values as dtype, shape and a SHA-256 of their bytes) or ``["raised", type
names (most derived first), message]``. Paths in messages read ``<WORK>``.

This module must not import ``showerdata``: the tests hand the scripts to two
interpreters (see ``test_v07_scripts.py``).
"""

from __future__ import annotations

PRELUDE = r'''
import hashlib, json, os, sys, warnings
import h5py
import numpy as np
import showerdata

WORK = sys.argv[1]
out = {}


def digest(a):
    a = np.ascontiguousarray(np.asarray(a))
    return [str(a.dtype), list(a.shape), hashlib.sha256(a.tobytes()).hexdigest()]


def fields(s):
    names = ("points", "energies", "pdg", "directions", "shower_ids", "_num_points")
    return {name: digest(getattr(s, name)) for name in names}


def step(name, fn):
    try:
        value = json.dumps(fn())
        out[name] = ["ok", json.loads(value.replace(json.dumps(WORK)[1:-1], "<WORK>"))]
    except Exception as error:
        kinds = [k.__name__ for k in type(error).__mro__]
        text = str(error.args[0]) if isinstance(error, KeyError) else str(error)
        out[name] = ["raised", kinds, text.replace(WORK, "<WORK>")]


def dump_file(path):
    """Every dataset: dtype, shape and values; vlen rows as their lengths + bytes."""
    found = {}

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            values = item[()]
            if h5py.check_vlen_dtype(item.dtype) is not None:
                rows = [np.asarray(r, dtype=np.float32) for r in values]
                lengths = [len(r) for r in rows]
                flat = np.concatenate(rows) if rows else np.empty(0, np.float32)
                found[name] = [str(item.dtype), list(item.shape), lengths,
                               digest(flat)]
            else:
                found[name] = [str(item.dtype), list(item.shape), digest(values)]

    with h5py.File(path, "r") as file:
        file.visititems(visit)
        attrs = sorted(k for k in file.attrs if k != "showerdata_version")
        found["attrs"] = {k: str(file.attrs[k]) for k in attrs}
    return found


def make(n, p, f, first=0):
    counts = (np.arange(n) * 7 + first) % (p + 1)
    points = np.zeros((n, p, f), dtype=np.float32)
    for i, c in enumerate(counts):
        k = np.arange(c, dtype=np.float32)
        points[i, :c, 0] = (k * 13 % 17 - 8) * 5.1 + i
        points[i, :c, 1] = (k * 7 % 11 - 5) * 4.3 - i
        points[i, :c, 2] = (k * 3 + i) % 40
        points[i, :c, 3] = 0.001 * (1 + (k * 5 + i) % 23)
        if f == 5:
            points[i, :c, 4] = k * 0.5 + i
    energies = (10 + np.arange(n) * 3.5).astype(np.float32).reshape(-1, 1)
    return showerdata.Showers(
        points=points,
        energies=energies,
        pdg=22,
        shower_ids=np.arange(first, first + n),
    )


def path(name):
    return os.path.join(WORK, name)
'''

EPILOGUE = r"""
print(json.dumps(out))
"""

#: A training-style program: load, index, hand arrays to numpy-only code, save.
READ_WRITE = r"""
s = make(30, 12, 5)
s.save(path("a.h5"))
step("file", lambda: dump_file(path("a.h5")))
loaded = showerdata.load(path("a.h5"), stop=1000)  # past the end: clips
step("len", lambda: len(loaded))
step("type", lambda: type(loaded.points).__name__)
step("fields", lambda: fields(loaded))
step("as_numpy", lambda: digest(np.asarray(loaded.points)))
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    step("torch", lambda: digest(torch.from_numpy(loaded.points).numpy()))
step("mean_energy", lambda: float(loaded.points[:, :, 3].sum()))
step("slice", lambda: fields(loaded[3:10]))
step("int_index", lambda: fields(loaded[2]))
step("list_index", lambda: fields(loaded[[1, 5, 7]]))
step("iter", lambda: [int(x._num_points[0]) for x in loaded][:8])
step("start_stop", lambda: fields(showerdata.load(path("a.h5"), 5, 9)))
step("max_points", lambda: digest(showerdata.load(path("a.h5"), max_points=4).points))
step("concat", lambda: fields(showerdata.concatenate([loaded[:4], make(3, 15, 5)])))
step("add", lambda: fields(loaded[:2] + loaded[5:7]))
step("copy_eq", lambda: loaded.copy() == loaded)
loaded.points = loaded.points[:, :, :4]
step("reassigned", lambda: digest(loaded.points))
loaded.save(path("f4.h5"))
step("file_f4", lambda: dump_file(path("f4.h5")))
step("shape", lambda: list(showerdata.get_file_shape(path("f4.h5"))))
step("length", lambda: showerdata.get_file_length(path("f4.h5")))
inc = showerdata.load_inc_particles(path("a.h5"), 2, 8)
step("inc", lambda: [digest(inc.energies), digest(inc.pdg), digest(inc.directions)])
step("inc_type", lambda: type(inc.energies).__name__)
inc.save(path("inc.h5"))
step("file_inc", lambda: dump_file(path("inc.h5")))
step("inc_length", lambda: showerdata.get_file_length(path("inc.h5")))
step("inc_index", lambda: digest(inc[1:3].energies))
with showerdata.ShowerDataFile(path("a.h5")) as file:
    step("datafile_shape", lambda: [list(file.shape), file.num_showers, len(file)])
    step("datafile_row", lambda: fields(file[3]))
    step("datafile_rows", lambda: fields(file[2:6]))
    step("datafile_type", lambda: type(file[0:2].points).__name__)
showerdata.save(make(5, 6, 4), path("b.h5"))
step("file_b", lambda: dump_file(path("b.h5")))
step("metadata", lambda: showerdata.core.load_metadata(path("b.h5"))["showerdata_version"] != "")
showerdata.core.add_metadata(path("b.h5"), {"generator": "toy", "seed": 3})
step("file_b_meta", lambda: dump_file(path("b.h5"))["attrs"])
"""

#: Targets of a generative model: save, read, fill in batches.
TARGETS = r"""
s = make(10, 8, 5)
s.save(path("t.h5"))
latent = (np.arange(10 * 8 * 3, dtype=np.float32).reshape(10, 8, 3) % 7) + 1
showerdata.save_target(latent, path("t.h5"))
points, counts = showerdata.load_target(path("t.h5"))
step("target", lambda: [digest(points), digest(counts), type(points).__name__])
step("target_part", lambda: digest(showerdata.load_target(path("t.h5"), start=2, stop=50)[0]))
showerdata.save_target(latent[:, :5], path("t.h5"), num_points=np.full(10, 5), name="z")
showerdata.add_target_dataset(path("t.h5"), (10, 8, 2), key="flow")
showerdata.save_target_batch(latent[:4, :, :2], path("t.h5"), start=0, key="flow")
showerdata.save_target_batch(latent[4:, :, :2], path("t.h5"),
                             num_points=np.arange(6), start=4, key="flow")
step("file", lambda: dump_file(path("t.h5")))
step("flow", lambda: digest(showerdata.load_target(path("t.h5"), "flow", max_points=3)[0]))
"""

#: Observables of in-memory showers and of a file.
OBSERVABLES = r"""
from showerdata import detector, observables
s = make(20, 16, 5)
geometry = detector.get_test_geometry(40, 0.5)
step("npl", lambda: digest(observables.calc_num_points_per_layer(s)))
step("epl", lambda: digest(observables.calc_energy_per_layer(s, num_layers=40)))
step("erb", lambda: digest(observables.calc_energy_per_radial_bin(s)))
step("coe", lambda: digest(observables.calc_center_of_energy(s)))
step("coe_geo", lambda: digest(observables.calc_center_of_energy(s, detector_config=geometry)))
step("mask", lambda: digest(observables.compute_threshold_mask(s, geometry)))
step("mask_none", lambda: digest(observables.compute_threshold_mask(s)))
s.save(path("o.h5"))
observables.add_observables_to_file(path("o.h5"), batch_size=7, detector_config=geometry)
step("file", lambda: dump_file(path("o.h5")))
read = observables.read_observables_from_file(path("o.h5"), start=3, stop=17)
step("read", lambda: {k: digest(v) for k, v in sorted(read.items())})
step("read_some", lambda: sorted(observables.load(path("o.h5"), ["total_energy"])))
step("energies", lambda: digest(observables.read_point_energies(path("o.h5"), 2, 9)))
observables.save(path("o.h5"), {"mine": np.arange(20.0)})
step("mine", lambda: digest(observables.load(path("o.h5"), ["mine"])["mine"]))
"""

#: create_empty_file + save_batch, ShowerDataFile writes, then plain h5py in "a".
BATCHES = r"""
showerdata.create_empty_file(path("e.h5"), (12, 9, 5))
showerdata.save_batch(make(5, 9, 5), path("e.h5"))
showerdata.save_batch(make(7, 9, 5, first=5), path("e.h5"), start=5)
step("file", lambda: dump_file(path("e.h5")))
step("loaded", lambda: fields(showerdata.load(path("e.h5"))))
with h5py.File(path("e.h5"), "a") as file:  # no handle of ours in the way
    file.attrs["touched"] = 1
    file["energies"][0, 0] = 99.0
step("touched", lambda: float(showerdata.load(path("e.h5")).energies[0, 0]))
with showerdata.ShowerDataFile(path("w.h5"), "w", shape=(6, 9, 5)) as file:
    file[0:3] = make(3, 9, 5)
    file[3:6] = make(3, 9, 5, first=3)
    file.attrs["clustered_for"] = "ILD"
step("file_w", lambda: dump_file(path("w.h5")))
with showerdata.ShowerDataFile(path("w.h5"), "a") as file:
    file[4] = make(1, 9, 5, first=11)
step("file_a", lambda: dump_file(path("w.h5")))
with h5py.File(path("w.h5"), "a") as file:
    del file["shower_ids"]
    file.create_dataset("shower_ids", data=np.arange(6, dtype=np.int32) + 100)
step("after_h5py", lambda: fields(showerdata.load(path("w.h5"))))
"""

#: The mistakes 0.7 refuses, each with the exception type and message it gave.
ERRORS = r"""
S = showerdata.Showers
IP = showerdata.IncidentParticles
z = lambda *shape: np.zeros(shape, np.float32)
good = make(4, 6, 5)
step("points_2d", lambda: S(points=z(2, 3), energies=z(2, 1), pdg=22))
step("points_f3", lambda: S(points=z(2, 3, 3), energies=z(2, 1), pdg=22))
step("energies", lambda: S(points=z(2, 3, 4), energies=z(3, 1), pdg=22))
step("directions", lambda: S(points=z(2, 3, 4), energies=z(2, 1), pdg=22,
                             directions=z(2, 2)))
step("pdg_len", lambda: S(points=z(2, 3, 4), energies=z(2, 1), pdg=[1, 2, 3]))
step("pdg_2d", lambda: S(points=z(2, 3, 4), energies=z(2, 1), pdg=np.ones((2, 2))))
step("ids", lambda: S(points=z(2, 3, 4), energies=z(2, 1), pdg=22,
                      shower_ids=[1, 2, 3]))
negative = z(2, 3, 4)
negative[0, 0, 3] = -1
step("negative", lambda: S(points=negative, energies=z(2, 1), pdg=22))
step("num_points_len", lambda: S(points=z(2, 3, 4), energies=z(2, 1), pdg=22,
                                 num_points=[0, 0, 0]))
gap = z(2, 3, 4)
gap[0, 1, 3] = 1
step("padding", lambda: S(points=gap, energies=z(2, 1), pdg=22))
step("ip_energies", lambda: IP(energies=np.zeros(3), pdg=22))
step("ip_directions", lambda: IP(energies=z(3, 1), pdg=22, directions=z(3, 2)))
step("ip_pdg", lambda: IP(energies=z(3, 1), pdg=np.ones((3, 1))))
step("ip_length", lambda: IP(energies=z(3, 1), pdg=[1, 2]))
step("index_2d", lambda: good[np.zeros((2, 2), dtype=int)])
step("ip_index_2d", lambda: good.inc_particles[np.zeros((2, 2), dtype=int)])
step("add_int", lambda: good + 5)
step("add_features", lambda: good + make(2, 6, 4))
good.save(path("g.h5"))
step("save_exists", lambda: good.save(path("g.h5")))
step("save_fn_exists", lambda: showerdata.save(good, path("g.h5")))
step("inc_exists", lambda: good.inc_particles.save(path("g.h5")))
good.inc_particles.save(path("inc.h5"))
step("shape_inc", lambda: showerdata.get_file_shape(path("inc.h5")))
with h5py.File(path("nothing.h5"), "w") as file:
    file.create_group("energies")
    file.create_dataset("shape", data=np.zeros((2, 2), np.int32))
step("length_group", lambda: showerdata.get_file_length(path("nothing.h5")))
step("shape_bad", lambda: showerdata.get_file_shape(path("nothing.h5")))
with h5py.File(path("empty.h5"), "w") as file:
    pass
step("length_none", lambda: showerdata.get_file_length(path("empty.h5")))
step("target_no_file", lambda: showerdata.save_target(z(4, 6, 2), path("no.h5")))
step("target_2d", lambda: showerdata.save_target(z(4, 6), path("g.h5")))
step("target_len", lambda: showerdata.save_target(z(4, 6, 2), path("g.h5"),
                                                  num_points=np.ones(3, np.int32)))
step("target_negative", lambda: showerdata.save_target(
    z(4, 6, 2), path("g.h5"), num_points=np.array([0, -1, 0, 0], np.int32)))
step("target_long", lambda: showerdata.save_target(
    z(4, 6, 2), path("g.h5"), num_points=np.array([0, 7, 0, 0], np.int32)))
showerdata.save_target(z(4, 6, 2), path("g.h5"))
step("target_exists", lambda: showerdata.save_target(z(4, 6, 2), path("g.h5")))
step("add_target_exists", lambda: showerdata.add_target_dataset(path("g.h5"),
                                                                (4, 6, 2)))
step("load_target_missing", lambda: showerdata.load_target(path("g.h5"), "nokey"))
step("batch_shape", lambda: showerdata.save_batch(make(2, 6, 4), path("g.h5")))
step("batch_past", lambda: showerdata.save_batch(make(3, 6, 5), path("g.h5"), 2))
step("batch_no_shape", lambda: showerdata.save_batch(good, path("inc.h5")))
step("target_batch_key", lambda: showerdata.save_target_batch(z(2, 6, 2), path("g.h5"),
                                                              key="nokey"))
step("target_batch_2d", lambda: showerdata.save_target_batch(z(2, 6), path("g.h5")))
step("file_mode", lambda: showerdata.ShowerDataFile(path("g.h5"), "x"))
step("file_no_shape", lambda: showerdata.ShowerDataFile(path("new.h5"), "w"))
with showerdata.ShowerDataFile(path("g.h5")) as file:
    step("file_range", lambda: file[100])
    step("file_negative", lambda: file[-100])
    step("file_2d", lambda: file[1, 2])
    step("file_readonly", lambda: file.__setitem__(slice(0, 4), good))
step("file_closed", lambda: file[0])
step("load_missing_file", lambda: showerdata.load(path("missing.h5")))
step("obs_missing", lambda: showerdata.observables.read_observables_from_file(
    path("g.h5"), ["nope"]))
showerdata.observables.save_observables_to_file(path("g.h5"), {"x": np.ones(4)})
step("obs_exists", lambda: showerdata.observables.save_observables_to_file(
    path("g.h5"), {"x": np.ones(4)}))
good.save(path("h.h5"))
showerdata.observables.add_observables_to_file(path("h.h5"))
step("add_obs_exists", lambda: showerdata.observables.add_observables_to_file(
    path("h.h5")))
showerdata.core.add_metadata(path("h.h5"), {"clustered_for": "other"})
step("add_obs_unknown", lambda: showerdata.observables.add_observables_to_file(
    path("h.h5"), overwrite=True))
from showerdata import filter as shower_filter
step("filter_exists", lambda: shower_filter.filter_file(path("inc.h5"), path("g.h5")))
"""

#: 0.7's command modules called from Python, with parsers built from them.
MODULES = r"""
import contextlib, io
from showerdata import cluster_module, filter as shower_filter, shift_showers, shuffle
from showerdata.__main__ import main as entry_point

def quiet(fn):
    def run():
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    return run

s = make(40, 20, 5)
s.save(path("in.h5"))
s[:25].save(path("in2.h5"))
args = shower_filter.parse_arguments(["-r", "30", "--ecal-threshold", "2",
                                      path("in.h5"), path("filtered.h5")])
step("filter_args", lambda: {k: str(v) for k, v in sorted(vars(args).items())})
step("filter_main", quiet(lambda: shower_filter.main(args)))
step("filtered", lambda: dump_file(path("filtered.h5")))
step("filter_again", quiet(lambda: shower_filter.main(args)))
parser = cluster_module.initialize_parser()
args = parser.parse_args([path("in.h5"), path("clustered.h5"), "--no-random-shift"])
step("cluster_args", lambda: {k: str(v) for k, v in sorted(vars(args).items())})
step("cluster_main", quiet(lambda: cluster_module.main(args)))
step("clustered", lambda: dump_file(path("clustered.h5")))
step("cluster_again", quiet(lambda: cluster_module.main(args)))
step("cluster_fn", lambda: fields(cluster_module.cluster(s[:6], random_shift=False)))
args = shift_showers.parse_args([path("in.h5"), path("shifted.h5")])
step("shift_args", lambda: {k: str(v) for k, v in sorted(vars(args).items())})
directions = np.tile(np.float32([0.2, -0.1, 1.0]), (40, 1))
tilted = showerdata.Showers(points=s.points, energies=s.energies, pdg=s.pdg,
                            directions=directions)
tilted.save(path("tilted.h5"))
args = shift_showers.parse_args([path("tilted.h5"), path("shifted.h5")])
step("shift_main", quiet(lambda: shift_showers.main(args)))
step("shifted_counts", lambda: digest(showerdata.load(path("shifted.h5"))._num_points))
from showerdata import detector
ild = detector.get_ILD_geometry()
one = shift_showers.shift_layers(s.points[3], directions[3], ild.layer_bottom_pos,
                                 ild.calo_surface, False)
step("shift_layers", lambda: digest(one[: int(s._num_points[3])]))
info = shuffle.get_file_info([path("in.h5"), path("in2.h5")], 30)
step("file_info", lambda: [[os.path.basename(p), n] for p, n in info])
order = shuffle.create_shuffled_indices(info, seed=7)
step("order", lambda: [[os.path.basename(p), int(i)] for p, i in order])
step("batch", lambda: fields(shuffle.load_batch_by_indices(order[:9])))
np.random.seed(3)
quiet(lambda: shuffle.process_in_batches(order, path("shuffled.h5"), 8, (55, 20, 5),
                                         overwrite_ids=True))()
step("shuffled", lambda: dump_file(path("shuffled.h5")))
parser = __import__("argparse").ArgumentParser()
shuffle.add_parser_options(parser)
args = parser.parse_args([path("in.h5"), path("in2.h5"), path("main.h5"), "--seed", "1"])
step("shuffle_args", lambda: {k: str(v) for k, v in sorted(vars(args).items())})
step("shuffle_main", quiet(lambda: shuffle.main(args)))
step("shuffle_main_len", lambda: showerdata.get_file_length(path("main.h5")))
step("shuffle_main_ids", lambda: sorted(showerdata.load(path("main.h5")).shower_ids.tolist()))
sys.argv = ["showerdata", "filter", path("in.h5"), path("cli.h5")]
step("entry_point", quiet(entry_point))
step("entry_filtered", lambda: dump_file(path("cli.h5")))
"""

#: Where 0.7 returned something and we do not, or something else.
EDGES = r"""
s = make(10, 8, 4)
s.save(path("e.h5"))
step("start_past_end", lambda: len(showerdata.load(path("e.h5"), 40)))
step("start_at_end", lambda: len(showerdata.load(path("e.h5"), 10)))
step("negative_stop", lambda: len(showerdata.load(path("e.h5"), 2, -3)))
step("negative_index", lambda: len(s[-1]))
step("max_points_counts", lambda: showerdata.load(path("e.h5"), max_points=3)._num_points.tolist())
step("save_twice", lambda: s.save(path("e.h5"), overwrite=True))
step("empty", lambda: fields(showerdata.Showers()))
step("empty_save", lambda: [showerdata.Showers(points=np.zeros((0, 3, 4), np.float32),
                                               energies=np.zeros((0, 1), np.float32),
                                               pdg=22).save(path("empty.h5")),
                            dump_file(path("empty.h5"))])
"""

SCRIPTS = {
    "read_write": READ_WRITE,
    "targets": TARGETS,
    "observables": OBSERVABLES,
    "batches": BATCHES,
    "errors": ERRORS,
    "modules": MODULES,
    "edges": EDGES,
}


def program(name: str) -> str:
    """The full text of script ``name``."""
    return PRELUDE + SCRIPTS[name] + EPILOGUE
