"""Tests for the data model: Showers, IncidentParticles, concatenate, checks."""

from __future__ import annotations

import pickle

import dask
import dask.array as da
import numpy as np
import pytest

import showerdata
from showerdata import IncidentParticles, ShowerDataError, Showers, concatenate
from showerdata.toy import toy_arrays

N = 12
P = 20
CHUNK = 4  # N / CHUNK = 3 chunks, so a bad shower can sit in a later chunk


def arrays(n: int = N, max_points: int = P, num_features: int = 4, seed: int = 0):
    return toy_arrays(0, n, seed=seed, max_points=max_points, num_features=num_features)


def lazy(data: dict[str, np.ndarray], chunks: int = CHUNK) -> dict[str, da.Array]:
    return {name: da.from_array(value, chunks=chunks) for name, value in data.items()}


def assert_in_memory_equal(actual: Showers, expected: dict | Showers) -> None:
    """Every field is a numpy array with the expected dtype, shape and values."""
    assert not actual.is_lazy
    for name in Showers.FIELDS:
        a = getattr(actual, name)
        e = expected[name] if isinstance(expected, dict) else getattr(expected, name)
        assert type(a) is np.ndarray, name
        assert a.dtype == e.dtype, name
        assert a.shape == e.shape, name
        np.testing.assert_array_equal(a, e, err_msg=name)


def assert_lazy(bundle, chunks: tuple[int, ...]) -> None:
    """All fields are dask arrays chunked ``chunks`` along showers and whole else."""
    assert bundle.is_lazy
    assert bundle.chunks == chunks
    for name in type(bundle).FIELDS:
        field = getattr(bundle, name)
        assert isinstance(field, da.Array), name
        assert field.chunks[0] == chunks, name
        assert all(len(c) == 1 for c in field.chunks[1:]), name


# -- construction like 0.7 --------------------------------------------------------


def test_defaults_are_filled_in_like_0_7() -> None:
    data = arrays()
    s = Showers(points=data["points"], energies=data["energies"][:, 0], pdg=11)
    assert s.energies.shape == (N, 1)
    np.testing.assert_array_equal(s.energies, data["energies"])
    assert s.pdg.dtype == np.int32
    np.testing.assert_array_equal(s.pdg, np.full(N, 11))
    assert s.directions.dtype == np.float32
    np.testing.assert_array_equal(s.directions, np.tile([0, 0, 1], (N, 1)))
    assert s.shower_ids.dtype == np.int32
    np.testing.assert_array_equal(s.shower_ids, np.arange(N))
    assert s.num_points.dtype == np.int32
    np.testing.assert_array_equal(s.num_points, data["num_points"])
    assert not s.is_lazy and s.chunks is None


def test_num_points_are_counted_from_nonzero_energies() -> None:
    points = np.zeros((3, 4, 4), dtype=np.float32)
    points[0, :2, 3] = [1.0, 2.0]
    points[2, :4, 3] = 0.5
    points[2, :4, 0] = 7.0  # coordinates do not count, only e
    points[1, 0, :3] = 3.0  # a point with e == 0 is padding
    s = Showers(points, [1.0, 2.0, 3.0], 22)
    np.testing.assert_array_equal(s.num_points, [2, 0, 4])


def test_empty_showers() -> None:
    s = Showers()
    assert s.points.shape == (0, 0, 5)
    assert len(s) == 0 and s.is_empty
    assert s.energies.shape == (0, 1)
    assert s.directions.shape == (0, 3)
    assert s.pdg.shape == s.shower_ids.shape == s.num_points.shape == (0,)
    for name, dtype in FIELD_DTYPES.items():
        assert getattr(s, name).dtype == dtype, name
    assert not Showers(**arrays(n=1)).is_empty


FIELD_DTYPES = {
    "points": np.float32,
    "energies": np.float32,
    "pdg": np.int32,
    "directions": np.float32,
    "shower_ids": np.int32,
    "num_points": np.int32,
}


def test_inputs_are_converted_to_the_field_dtypes() -> None:
    data = arrays()
    s = Showers(
        points=data["points"].astype(np.float64),
        energies=data["energies"].astype(np.float64).tolist(),
        pdg=data["pdg"].astype(np.int64),
        directions=data["directions"].astype(np.float64),
        shower_ids=data["shower_ids"].astype(np.int64),
        num_points=data["num_points"].astype(np.uint16),
    )
    assert_in_memory_equal(s, data)


def test_pdg_numpy_scalar_and_column_are_accepted() -> None:
    data = arrays()
    assert np.all(Showers(data["points"], data["energies"], np.int64(211)).pdg == 211)
    column = Showers(data["points"], data["energies"], data["pdg"][:, None])
    assert column.pdg.shape == (N,)


def test_copy_semantics() -> None:
    data = arrays()
    points = data["points"]
    shared = Showers(points, data["energies"], 22)
    assert np.shares_memory(shared.points, points)
    copied = Showers(points, data["energies"], 22, copy=True)
    assert not np.shares_memory(copied.points, points)
    assert not np.shares_memory(copied.energies, data["energies"])
    with pytest.raises(ValueError):  # as numpy (and 0.7): a dtype change copies
        Showers(points.astype(np.float64), data["energies"], 22, copy=False)


def test_copy_method_copies_in_memory_arrays() -> None:
    s = Showers(**arrays())
    c = s.copy()
    assert c == s and c is not s
    for name in Showers.FIELDS:
        assert not np.shares_memory(getattr(c, name), getattr(s, name)), name


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("energies", np.ones((N + 1,), np.float32)),
        ("energies", np.ones((N, 2), np.float32)),
        ("energies", np.ones((N, 1, 1), np.float32)),
        ("directions", np.ones((N, 2), np.float32)),
        ("directions", np.ones((N + 1, 3), np.float32)),
        ("directions", np.ones((N,), np.float32)),
        ("pdg", np.ones((N + 1,), np.int32)),
        ("pdg", np.ones((N, 2), np.int32)),
        ("shower_ids", np.ones((N - 1,), np.int32)),
        ("shower_ids", np.ones((N, 2), np.int32)),
        ("num_points", np.ones((N + 1,), np.int32)),
        ("num_points", np.ones((N, 2), np.int32)),
    ],
)
@pytest.mark.parametrize("form", ["numpy", "dask"])
def test_shape_errors_name_the_field(field: str, bad: np.ndarray, form: str) -> None:
    data = arrays()
    data[field] = bad
    if form == "dask":
        data = lazy(data)
    with pytest.raises(ValueError, match=field):
        Showers(**data)


@pytest.mark.parametrize(
    "shape", [(N, P, 3), (N, P, 6), (N, P), (N,), (N, P, 4, 1), (N, 0, 2)]
)
def test_points_must_have_4_or_5_features(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="points"):
        Showers(np.zeros(shape, np.float32), np.ones(N, np.float32), 22)


def test_points_with_unknown_chunk_sizes_are_a_value_error() -> None:
    data = arrays()
    points = da.from_array(data["points"], chunks=CHUNK)
    points = points[points[:, 0, 3] > 0]  # unknown number of showers
    with pytest.raises(ValueError, match="chunk"):
        Showers(points, data["energies"], 22)


def test_five_features_are_kept() -> None:
    data = arrays(num_features=5)
    s = Showers(**data)
    assert s.num_features == 5 and s.max_points == P
    assert_in_memory_equal(s, data)


# -- lazy and in memory -----------------------------------------------------------


@pytest.mark.parametrize("field", list(FIELD_DTYPES))
def test_one_dask_input_makes_every_field_lazy(field: str) -> None:
    data = arrays()
    inputs = dict(data)
    inputs[field] = da.from_array(data[field], chunks=CHUNK)
    s = Showers(**inputs)
    assert_lazy(s, (4, 4, 4))
    assert_in_memory_equal(s.compute(), data)


def test_dask_inputs_with_different_chunks_are_aligned() -> None:
    data = arrays()
    s = Showers(
        points=da.from_array(data["points"], chunks=(5, 7, 3)),
        energies=da.from_array(data["energies"], chunks=3),
        pdg=22,
    )
    assert_lazy(s, (5, 5, 2))
    assert s.points.chunks[1:] == ((P,), (4,))
    assert_in_memory_equal(s.compute(), Showers(data["points"], data["energies"], 22))


def test_lazy_defaults_equal_in_memory_defaults() -> None:
    data = arrays()
    s = Showers(da.from_array(data["points"], chunks=CHUNK), data["energies"][:, 0], 11)
    assert_lazy(s, (4, 4, 4))
    expected = Showers(data["points"], data["energies"][:, 0], 11)
    assert_in_memory_equal(s.compute(), expected)
    assert s.points.dtype == np.float32 and s.num_points.dtype == np.int32


def test_lazy_dtype_conversion() -> None:
    data = arrays()
    inputs = {
        "points": data["points"].astype(np.float64),
        "energies": data["energies"].astype(np.float64),
        "pdg": data["pdg"].astype(np.int64),
        "directions": data["directions"].astype(np.float64),
        "shower_ids": data["shower_ids"].astype(np.int64),
        "num_points": data["num_points"].astype(np.int64),
    }
    s = Showers(**lazy(inputs))
    for name, dtype in FIELD_DTYPES.items():
        assert getattr(s, name).dtype == dtype, name
    assert_in_memory_equal(s.compute(), data)


def test_numpy_inputs_stay_numpy() -> None:
    s = Showers(**arrays())
    assert not s.is_lazy
    for name in Showers.FIELDS:
        assert type(getattr(s, name)) is np.ndarray, name
    assert s.compute() == s
    assert not s.persist().is_lazy


def test_compute_of_lazy_data_gives_numpy_ready_for_torch() -> None:
    data = arrays()
    s = Showers(**lazy(data))
    computed = s.compute()
    assert_in_memory_equal(computed, data)
    for selected in (computed, s[::-2].compute(), s[[5, 1, 1]].compute()):
        points = selected.points
        # what torch.from_numpy needs: a writable float32 array, positive strides
        assert points.dtype == np.float32
        assert points.flags.c_contiguous and points.flags.writeable
        assert min(points.strides) > 0


class CountingScheduler:
    """A dask scheduler (a ``get`` function): counts its calls, runs in order."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, graph, keys, **kwargs):
        self.calls += 1
        return dask.local.get_sync(graph, keys, **kwargs)


@pytest.mark.parametrize("chunks", [N, CHUNK], ids=["one chunk", "three chunks"])
@pytest.mark.parametrize("edited", [False, True], ids=["as stored", "edited"])
def test_compute_keeps_attrs_and_files_and_uses_the_scheduler_given(
    tmp_path, chunks: int, edited: bool
) -> None:
    data = arrays()
    path = tmp_path / "showers.h5"
    showerdata.save(Showers(**data), path)
    showerdata.add_metadata(path, {"campaign": "test beam"})
    loaded = showerdata.load(path, chunks=chunks)
    expected = dict(data)
    if edited:  # no stored rows to read back: computed through the fields
        loaded.energies = loaded.energies * 2
        expected["energies"] = data["energies"] * 2
    scheduler = CountingScheduler()
    with_keywords = loaded.compute(scheduler=scheduler)
    assert scheduler.calls == 1
    for computed in (loaded.compute(), with_keywords, with_keywords.compute()):
        assert_in_memory_equal(computed, expected)
        assert computed.attrs["campaign"] == "test beam"
        assert computed.sources == [(str(path), N)]


def test_persist_keeps_lazy_form_and_holds_the_chunks() -> None:
    data = arrays()
    s = Showers(**lazy(data))
    persisted = s.persist(scheduler="synchronous")
    assert_lazy(persisted, s.chunks)
    for name in Showers.FIELDS:
        field = getattr(persisted, name)
        assert len(field.__dask_graph__()) == field.npartitions, name
    assert_in_memory_equal(persisted.compute(), data)


def test_chunk_makes_in_memory_data_lazy() -> None:
    data = arrays()
    s = Showers(**data)
    chunked = s.chunk(5)
    assert_lazy(chunked, (5, 5, 2))
    assert not s.is_lazy  # the original is untouched
    assert_in_memory_equal(chunked.compute(), data)
    assert_lazy(chunked.chunk(3), (3, 3, 3, 3))
    assert_lazy(s.chunk((2, 10)), (2, 10))


def test_chunk_auto_uses_the_configured_chunk_bytes() -> None:
    s = Showers(**arrays())
    per_shower = P * 4 * 4
    with dask.config.set({"showerdata.chunk-bytes": 3 * per_shower}):
        assert_lazy(s.chunk("auto"), (3, 3, 3, 3))
        assert_lazy(s.chunk(), (3, 3, 3, 3))
    assert_lazy(s.chunk("auto"), (N,))  # 64 MiB default: one chunk
    with dask.config.set({"showerdata.chunk-bytes": per_shower // 2}):
        assert_lazy(s.chunk("auto"), (1,) * N)  # never less than one shower


def test_chunk_of_empty_showers() -> None:
    s = Showers().chunk(3)
    assert s.is_lazy and len(s) == 0
    assert s.compute() == Showers()


def test_nbytes_counts_every_field() -> None:
    s = Showers(**arrays())
    expected = sum(getattr(s, name).nbytes for name in Showers.FIELDS)
    assert s.nbytes == expected
    assert s.chunk(5).nbytes == expected


def test_form_is_kept_by_operations() -> None:
    data = arrays()
    memory = Showers(**data)
    lz = memory.chunk(CHUNK)
    for result in (memory[2:5], memory.copy(), memory + memory, memory.inc_particles):
        assert not result.is_lazy
    for result in (
        lz[2:5],
        lz[[1, 0]],
        lz.copy(),
        lz + lz,
        lz + memory,
        memory + lz,
        concatenate([memory, lz]),
        lz.inc_particles,
    ):
        assert result.is_lazy
        assert_lazy(result, result.chunks)


def test_repr_says_the_form() -> None:
    s = Showers(**arrays())
    assert "in memory" in repr(s)
    assert "lazy: 3 chunks" in repr(s.chunk(CHUNK))
    assert "in memory" in repr(s.inc_particles)


# -- fields -----------------------------------------------------------------------


def test_repr_in_full() -> None:
    s = Showers(np.zeros((1200, 10, 4), np.float32), np.ones((1200, 1)), 22)
    # 1200 x (points 10*4*4 + energies 4 + pdg 4 + directions 12 + ids 4 +
    # num_points 4) = 225,600 bytes = 220.31 KiB
    head = "Showers(1,200 showers, P=10, F=4, 220.31 kiB padded"
    assert repr(s) == f"{head}, in memory)"
    assert repr(s.chunk(500)) == f"{head}, lazy: 3 chunks of <= 500)"
    assert repr(s.chunk(1200)) == f"{head}, lazy: 1 chunk of <= 1,200)"
    assert repr(s.inc_particles) == "IncidentParticles(1,200 particles, in memory)"


def test_num_points_alias_reads_and_writes() -> None:
    s = Showers(**arrays())
    assert s._num_points is s.num_points
    new = np.zeros(N, np.int32)
    s._num_points = new
    assert s.num_points is new
    s.num_points = np.ones(N, np.int32)
    np.testing.assert_array_equal(s._num_points, 1)


@pytest.mark.parametrize("form", ["numpy", "dask"])
def test_reassigning_points_drops_time(form: str) -> None:
    data = arrays(num_features=5)
    s = Showers(**(lazy(data) if form == "dask" else data))
    s.points = s.points[:, :, :4]
    assert s.num_features == 4
    computed = s.compute()
    np.testing.assert_array_equal(computed.points, data["points"][..., :4])
    np.testing.assert_array_equal(computed[3].points, data["points"][3:4, :, :4])


@pytest.mark.parametrize("form", ["numpy", "dask"])
def test_a_list_assigned_to_a_field_is_an_array_like_the_others(form: str) -> None:
    data = arrays()
    s = Showers(**(lazy(data) if form == "dask" else data))
    s.pdg = [211] * N
    s.energies = [[float(k)] for k in range(N)]
    assert s.is_lazy is (form == "dask")
    for name in ("pdg", "energies"):
        assert type(getattr(s, name)) is type(s.points), name
        if s.is_lazy:
            assert getattr(s, name).chunks[0] == s.points.chunks[0], name
    computed = s.compute()
    np.testing.assert_array_equal(computed.pdg, np.full(N, 211))
    np.testing.assert_array_equal(computed.energies, np.arange(N)[:, None])
    np.testing.assert_array_equal(computed[4:6].pdg, [211, 211])


def test_reassigning_a_field_drops_the_stored_selection(tmp_path) -> None:
    data = arrays(num_features=5)
    path = tmp_path / "showers.h5"
    showerdata.save(Showers(**data), path)

    loaded = showerdata.load(path, chunks=CHUNK)
    assert loaded._source is not None
    assert loaded[3]._source is not None  # pushdown: reads only row 3
    loaded.points = loaded.points[:, :, :4]
    assert loaded._source is None
    one = loaded[3]
    assert one.num_features == 4  # the selection sees the new field
    np.testing.assert_array_equal(one.compute().points, data["points"][3:4, :, :4])

    out = tmp_path / "four.h5"
    loaded.save(out)
    again = showerdata.load(out)
    assert showerdata.get_file_shape(out) == (N, P, 4)
    assert again.compute() == loaded.compute()

    for name in ("_num_points", "energies", "pdg"):
        fresh = showerdata.load(path, chunks=CHUNK)
        setattr(fresh, name, getattr(fresh, name))
        assert fresh._source is None, name
    particles = showerdata.load_inc_particles(path)
    assert particles._source is not None
    particles.pdg = particles.pdg + 1
    assert particles._source is None
    np.testing.assert_array_equal(particles[2].compute().pdg, [data["pdg"][2] + 1])


def test_other_attributes_keep_the_stored_selection(tmp_path) -> None:
    path = tmp_path / "showers.h5"
    showerdata.save(Showers(**arrays()), path)
    loaded = showerdata.load(path)
    loaded.note = "mine"
    assert loaded._source is not None


# -- equality, addition, concatenation --------------------------------------------


def test_equality() -> None:
    data = arrays()
    s = Showers(**data)
    lz = Showers(**lazy(data))
    assert s == Showers(**arrays())
    assert s == lz and lz == s and lz == lz.chunk(5)
    assert s != s[1:]
    assert lz != lz[1:]
    assert s != Showers(**arrays(max_points=P + 1))
    other = arrays()
    other["shower_ids"] = other["shower_ids"] + 1
    assert s != Showers(**other)
    assert lz != Showers(**lazy(other))
    assert s != 3 and s != data and s != s.inc_particles
    assert Showers() == Showers()


def test_showers_are_not_hashable() -> None:
    with pytest.raises(TypeError):
        hash(Showers())


def test_add_rejects_other_types() -> None:
    s = Showers(**arrays())
    with pytest.raises(TypeError):
        s + 1  # noqa: B018
    with pytest.raises(TypeError):
        s + s.inc_particles  # noqa: B018


def test_add_pads_to_the_longer_point_axis() -> None:
    short = Showers(**arrays(n=3, max_points=5, seed=1))
    long = Showers(**arrays(n=4, max_points=P, seed=2))
    total = short + long
    assert total.points.shape == (7, P, 4)
    np.testing.assert_array_equal(total.points[:3, :5], short.points)
    assert not total.points[:3, 5:].any()
    np.testing.assert_array_equal(total.points[3:], long.points)
    np.testing.assert_array_equal(
        total.num_points, np.concatenate([short.num_points, long.num_points])
    )
    np.testing.assert_array_equal(
        total.shower_ids, np.concatenate([short.shower_ids, long.shower_ids])
    )
    assert (long + short).points.shape == (7, P, 4)
    assert (short.chunk(2) + long).compute() == total


def test_add_with_empty_showers_returns_a_copy() -> None:
    s = Showers(**arrays())
    for total in (s + Showers(), Showers() + s):
        assert total == s
        assert not np.shares_memory(total.points, s.points)
    lz = s.chunk(CHUNK)
    assert (Showers() + lz).is_lazy
    assert (Showers() + Showers()).is_empty


def test_add_with_different_features_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        Showers(**arrays(num_features=4)) + Showers(**arrays(num_features=5))  # noqa: B018


def test_concatenate() -> None:
    parts = [
        Showers(**arrays(n=3, max_points=7, seed=1)),
        Showers(),
        Showers(**arrays(n=5, max_points=P, seed=2)),
        Showers(**arrays(n=2, max_points=3, seed=3)),
    ]
    total = concatenate(iter(parts))
    assert total.points.shape == (10, P, 4)
    assert not total.is_lazy
    assert total == parts[0] + parts[2] + parts[3]
    np.testing.assert_array_equal(total[3:8].points, parts[2].points)
    np.testing.assert_array_equal(total[8:].points[:, :3], parts[3].points)
    assert not total[8:].points[:, 3:].any()


def test_concatenate_of_lazy_parts_is_lazy_and_aligned() -> None:
    parts = [
        Showers(**arrays(n=5, max_points=7, seed=1)),
        Showers(**arrays(n=6, max_points=P, seed=2)).chunk(4),
        Showers(),
        Showers(**arrays(n=3, max_points=3, seed=3)),
    ]
    total = concatenate(parts)
    assert_lazy(total, total.chunks)
    assert total.points.shape == (14, P, 4)
    assert total.compute() == concatenate([p.compute() for p in parts])
    all_lazy = concatenate([p.chunk(2) for p in parts if not p.is_empty])
    assert_lazy(all_lazy, (2, 2, 1, 2, 2, 2, 2, 1))
    assert all_lazy.compute() == total.compute()


def test_concatenate_aligns_chunks_of_big_in_memory_parts() -> None:
    # dask would split a large in-memory points array into several chunks on its
    # own; every field must still share one chunking along showers.
    memory = Showers(**arrays(n=N, max_points=P))
    lz = Showers(**arrays(n=4, max_points=P, seed=1)).chunk(2)
    with dask.config.set({"array.chunk-size": "1KiB"}):
        total = concatenate([memory, lz])
    assert_lazy(total, total.chunks)
    assert total.compute() == concatenate([memory, lz.compute()])


def test_concatenate_edge_cases() -> None:
    assert concatenate([]) == Showers()
    assert concatenate([Showers(), Showers()]).points.shape == (0, 0, 5)
    s = Showers(**arrays())
    single = concatenate([Showers(), s])
    assert single == s and not np.shares_memory(single.points, s.points)
    with pytest.raises(ValueError, match="features"):
        concatenate([s, Showers(**arrays(num_features=5))])


# -- container protocol -----------------------------------------------------------


@pytest.mark.parametrize("form", ["numpy", "dask"])
def test_iteration_yields_single_showers(form: str) -> None:
    data = arrays(n=5)
    s = Showers(**(lazy(data, 2) if form == "dask" else data))
    items = list(s)
    assert len(items) == 5
    for i, item in enumerate(items):
        assert isinstance(item, Showers) and len(item) == 1
        assert item.is_lazy == s.is_lazy
        np.testing.assert_array_equal(
            np.asarray(item.points), data["points"][i : i + 1]
        )
        assert int(np.asarray(item.shower_ids)[0]) == i
    assert list(Showers()) == []


def test_inc_particles_of_showers() -> None:
    data = arrays()
    s = Showers(**data)
    particles = s.inc_particles
    assert isinstance(particles, IncidentParticles)
    assert len(particles) == N
    np.testing.assert_array_equal(particles.energies, data["energies"])
    np.testing.assert_array_equal(particles.pdg, data["pdg"])
    np.testing.assert_array_equal(particles.directions, data["directions"])
    lazy_particles = s.chunk(CHUNK).inc_particles
    assert_lazy(lazy_particles, (4, 4, 4))
    assert lazy_particles.compute() == particles


# -- IncidentParticles ------------------------------------------------------------


def test_incident_particles_construction() -> None:
    energies = np.array([[10.0], [20.0], [30.0]])
    p = IncidentParticles(energies, 22)
    assert p.energies.dtype == np.float32 and p.energies.shape == (3, 1)
    assert p.pdg.dtype == np.int32
    np.testing.assert_array_equal(p.pdg, [22, 22, 22])
    assert p.directions.dtype == np.float32
    np.testing.assert_array_equal(p.directions, np.tile([0, 0, 1], (3, 1)))
    given = IncidentParticles(energies, [11, -11, 22], np.ones((3, 3)))
    np.testing.assert_array_equal(given.pdg, [11, -11, 22])
    np.testing.assert_array_equal(given.directions, 1.0)
    assert not p.is_lazy and len(p) == 3


@pytest.mark.parametrize(
    ("energies", "pdg", "directions"),
    [
        (np.ones(3), 22, None),  # energies must be (N, 1), not reshaped like Showers
        (np.ones((3, 2)), 22, None),
        (np.ones((3, 1, 1)), 22, None),
        (np.float32(1.0), 22, None),
        (np.ones((3, 1)), [1, 2], None),
        (np.ones((3, 1)), np.ones((3, 1)), None),
        (np.ones((3, 1)), 22, np.ones((3, 2))),
        (np.ones((3, 1)), 22, np.ones((2, 3))),
    ],
)
def test_incident_particles_shape_errors(energies, pdg, directions) -> None:
    with pytest.raises(ValueError):
        IncidentParticles(energies, pdg, directions)


def test_incident_particles_indexing_and_lazy_form() -> None:
    data = arrays()
    p = IncidentParticles(data["energies"], data["pdg"], data["directions"])
    lz = IncidentParticles(
        da.from_array(data["energies"], chunks=CHUNK), 211, data["directions"]
    )
    assert_lazy(lz, (4, 4, 4))
    np.testing.assert_array_equal(lz.pdg.compute(), np.full(N, 211))
    assert not p.is_lazy
    index = [5, 0, 0, -1]
    for sub in (p[index], lz[index]):
        assert len(sub) == 4
        np.testing.assert_array_equal(
            np.asarray(sub.energies), data["energies"][[5, 0, 0, N - 1]]
        )
    assert lz[index].is_lazy and not p[index].is_lazy
    assert len(p[3]) == 1 and len(p[-1]) == 1
    np.testing.assert_array_equal(p[2:7].pdg, data["pdg"][2:7])
    computed = lz.compute()
    assert not computed.is_lazy
    np.testing.assert_array_equal(computed.energies, data["energies"])
    with pytest.raises(IndexError):
        p[N]


# -- validation -------------------------------------------------------------------


def corrupt(problem: str, index: int) -> dict[str, np.ndarray]:
    """Toy arrays with shower ``index`` made invalid in the way named."""
    data = arrays()
    points, num_points = data["points"].copy(), data["num_points"].copy()
    assert num_points[index] >= 3
    if problem == "negative":
        points[index, 1, 3] = -0.5
    elif problem == "nan":
        points[index, 1, 0] = np.nan
    elif problem == "inf":
        points[index, 1, 3] = np.inf
    elif problem == "padding":
        points[index, 1, 3] = 0.0
    elif problem == "mismatch":
        num_points[index] -= 1
    elif problem == "too many":
        num_points[index] = P + 1
    elif problem == "negative count":
        num_points[index] = -1
    data["points"], data["num_points"] = points, num_points
    return data


PROBLEM_TEXT = {
    "negative": "negative point energy",
    "nan": "NaN or infinite",
    "inf": "NaN or infinite",
    "padding": "padding",
    "mismatch": "num_points disagrees",
    "too many": "num_points is negative or larger",
    "negative count": "num_points is negative or larger",
}


@pytest.mark.parametrize("problem", list(PROBLEM_TEXT))
@pytest.mark.parametrize("index", [0, 6, N - 1])
def test_in_memory_checks_name_the_shower(problem: str, index: int) -> None:
    data = corrupt(problem, index)
    with pytest.raises(ShowerDataError, match=PROBLEM_TEXT[problem]) as info:
        Showers(**data)
    assert info.value.index == index
    assert f"shower {index}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_in_memory_checks_without_given_num_points() -> None:
    data = corrupt("padding", 7)
    del data["num_points"]
    with pytest.raises(ValueError, match="shower 7"):
        Showers(**data)
    data = corrupt("nan", 2)
    del data["num_points"]
    with pytest.raises(ShowerDataError) as info:
        Showers(**data)
    assert info.value.index == 2


def test_the_first_bad_shower_is_named() -> None:
    data = corrupt("negative", 9)
    data["points"][4, 0, 3] = -1.0
    with pytest.raises(ShowerDataError) as info:
        Showers(**data)
    assert info.value.index == 4


@pytest.mark.parametrize("problem", list(PROBLEM_TEXT))
@pytest.mark.parametrize("index", [5, 10])  # 2nd and 3rd chunk of four
def test_lazy_checks_run_at_compute_time_with_global_index(
    problem: str, index: int
) -> None:
    data = corrupt(problem, index)
    s = Showers(**lazy(data))  # nothing is checked yet
    assert s.is_lazy
    with pytest.raises(ShowerDataError, match=PROBLEM_TEXT[problem]) as info:
        s.compute()
    assert info.value.index == index
    assert f"shower {index}" in str(info.value)
    with pytest.raises(ValueError, match=f"shower {index}"):
        s.points.compute()
    with pytest.raises(ShowerDataError, match=f"shower {index}"):
        s.chunk(3).compute()  # rechunking keeps the original positions
    # chunks without the bad shower compute fine
    good = s[:4].compute()
    np.testing.assert_array_equal(good.points, data["points"][:4])


def test_lazy_checks_with_mixed_inputs_and_counted_num_points() -> None:
    data = corrupt("padding", 9)
    points = da.from_array(data["points"], chunks=(CHUNK, 5, 2))
    s = Showers(points, data["energies"], 22)
    with pytest.raises(ShowerDataError) as info:
        s.compute()
    assert info.value.index == 9


def test_showerdata_error_pickles_with_its_fields() -> None:
    error = ShowerDataError("bad", path="/data/x.h5", dataset="showers", index=42)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is ShowerDataError
    assert (again.problem, again.path, again.dataset, again.index) == (
        "bad",
        "/data/x.h5",
        "showers",
        42,
    )
    assert (
        str(again)
        == str(error)
        == "file '/data/x.h5', dataset 'showers', shower 42: bad"
    )

    with pytest.raises(ShowerDataError) as info:
        Showers(**corrupt("negative", 3))
    raised = pickle.loads(pickle.dumps(info.value))
    assert (raised.index, raised.dataset, raised.path) == (3, "points", None)
    assert str(raised) == str(info.value)


def test_showerdata_error_message_without_location() -> None:
    assert str(ShowerDataError("plain")) == "plain"
    assert ShowerDataError("x", index=0).index == 0
    assert str(ShowerDataError("x", index=0)) == "shower 0: x"


@pytest.mark.parametrize("count", [4, 100, 1000, 10_000, 100_000])
def test_fields_with_equal_values_are_all_computed(count):
    # pdg and shower_ids with the same values get the same dask name from
    # from_array, and dask.store writes only one of several sources of one
    # name: the other result would be left as np.empty made it.
    points = np.zeros((count, 1, 4), np.float32)
    points[:, 0, 3] = 1.0
    same = np.arange(12_345, 12_345 + count, dtype=np.int32)
    showers = Showers(points, np.ones((count, 1)), pdg=same, shower_ids=same.copy())
    lazy = showers.chunk(max(1, count // 4))
    assert lazy.pdg.name == lazy.shower_ids.name
    computed = lazy.compute()
    np.testing.assert_array_equal(computed.pdg, same)
    np.testing.assert_array_equal(computed.shower_ids, same)


# -- what every form keeps ----------------------------------------------------------


@pytest.fixture
def two_files(tmp_path) -> str:
    for i in range(2):
        Showers(**arrays(6, seed=i)).save(tmp_path / f"part-{i}.h5")
    return str(tmp_path / "part-*.h5")


def test_every_form_of_a_production_remembers_its_files(two_files):
    loaded = showerdata.load(two_files)
    assert len(loaded.sources) == 2
    showers = loaded.assign_attrs(run=3)
    assert showers.sources == loaded.sources
    assert showers.locate(7) == loaded.locate(7)
    # ... and still reads selections straight from the files.
    assert showers[[7, 2]]._source is not None
    forms = {
        "copy": showers.copy(),
        "chunk": showers.chunk(3),
        "chunk, copy": showers.chunk(3).copy(),
        "chunk, assign_attrs": showers.chunk(3).assign_attrs(run=3),
        "persist": showers.persist(),
        "compute, copy": showers.compute().copy(),
        "compute, chunk": showers.compute().chunk(4),
        "compute, persist": showers.compute().persist(),
    }
    for name, form in forms.items():
        assert repr(form).endswith(", from 2 files)"), name
        assert form.attrs == {"run": 3}, name
        assert form.sources == loaded.sources, name
        assert form == showers, name


def test_persist_hands_its_keywords_to_dask(two_files):
    calls = []

    def scheduler(graph, keys, **kwargs):
        calls.append(len(keys))
        return dask.get(graph, keys, **kwargs)

    showers = showerdata.load(two_files)
    kept = showers.persist(scheduler=scheduler)
    assert calls, "persist did not use the scheduler it was given"
    assert kept == showers


# -- IncidentParticles: the dtypes of the format, attrs, named fields ---------------


def test_incident_particles_take_the_dtypes_of_the_format():
    particles = IncidentParticles(
        np.ones((3, 1), np.float64),
        np.array([11, 22, 13], np.int64),
        np.ones((3, 3), np.float64),
        attrs={"campaign": "tb"},
    )
    assert particles.energies.dtype == np.float32
    assert particles.pdg.dtype == np.int32
    assert particles.directions.dtype == np.float32
    assert particles.attrs == {"campaign": "tb"}


def test_incident_particles_of_unknown_length_name_the_field():
    energies = da.ones((4, 1), chunks=2)
    energies = energies[energies[:, 0] > 0]  # length unknown until computed
    with pytest.raises(ValueError) as raised:
        IncidentParticles(energies, 22)
    assert str(raised.value) == (
        "energies has unknown chunk sizes; call .compute_chunk_sizes() first."
    )


# -- the constructor, to the letter ---------------------------------------------------


def test_no_showers_of_a_given_width_keep_their_shape():
    none = Showers(np.zeros((0, 7, 4)), np.zeros((0, 1)), 22)
    assert none.points.shape == (0, 7, 4)
    assert len(none) == 0


def test_points_of_the_wrong_rank_get_0_7s_message():
    with pytest.raises(ValueError) as raised:
        Showers(np.zeros((3, 4)), np.ones((3, 1)), 22)
    assert str(raised.value) == (
        "Points must be a 3D array with shape (num_showers, max_points, 4 or 5) "
        "got (3, 4)"
    )


def test_points_of_unknown_length_name_the_field():
    points = da.ones((4, 3, 4), chunks=2)
    points = points[points[:, 0, 0] > 0]
    with pytest.raises(ValueError) as raised:
        Showers(points, np.ones((4, 1)), 22)
    assert str(raised.value) == (
        "points has unknown chunk sizes; call .compute_chunk_sizes() first."
    )


def test_pdg_with_more_than_one_column_is_refused():
    with pytest.raises(ValueError) as raised:
        Showers(**{**arrays(3), "pdg": np.full((3, 2), 22)})
    assert str(raised.value) == (
        "Invalid shape for PDG array. (pdg must be a 1D array, got shape (3, 2).)"
    )
    one_column = Showers(**{**arrays(3), "pdg": np.full((3, 1), 22)})
    assert one_column.pdg.shape == (3,)


INTEGER = ("pdg", "shower_ids", "num_points")


def test_copy_true_detaches_every_field_from_its_input():
    given = {
        name: np.asarray(value, dtype=np.int32 if name in INTEGER else np.float32)
        for name, value in arrays(3).items()
    }
    showers = Showers(**given, copy=True)
    for name, value in given.items():
        value[...] = 0
        assert np.any(getattr(showers, name) != 0), name


def test_a_field_of_another_length_waits_for_the_others():
    # Replacing the fields one after the other passes through unequal lengths.
    showers = Showers(**lazy(arrays()))
    showers.energies = da.ones((N + 3, 1), chunks=5)
    assert showers.energies.shape == (N + 3, 1)


def test_attrs_given_to_the_constructor_are_kept():
    showers = Showers(**arrays(3), attrs={"campaign": "tb", "run": 7})
    assert showers.attrs == {"campaign": "tb", "run": 7}
