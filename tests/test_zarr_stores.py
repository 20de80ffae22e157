"""Any valid store of the layout reads: stores written by plain zarr-python.

The expected values are the numpy arrays the stores were written from, so
these tests do not depend on our own writer.
"""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from conftest import assert_showers_equal
from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

import showerdata
from showerdata import ShowerDataError
from showerdata.toy import toy_arrays

N, P, F = 31, 17, 5


@pytest.fixture(scope="module")
def arrays():
    values = toy_arrays(0, N, seed=3, max_points=P, num_features=F)
    showers = showerdata.Showers(**values)
    return {
        "showers": showers.points,
        "num_points": showers.num_points,
        "energies": showers.energies,
        "directions": showers.directions,
        "pdg": showers.pdg,
        "shower_ids": showers.shower_ids,
    }, showers


def write_plain_store(
    path,
    arrays,
    *,
    byteorder="<",
    separator="/",
    shards=None,
    compressors="auto",
    layout_version=2,
):
    """A store of the layout written with zarr-python alone."""
    group = zarr.open_group(
        path,
        mode="w",
        zarr_format=3,
        attributes={
            "showerdata_format": "showerdata-zarr",
            "showerdata_layout_version": layout_version,
            "showerdata_version": "plain zarr",
        },
    )
    for name, values in arrays.items():
        dtype = values.dtype.newbyteorder(byteorder)
        chunks = (8, *values.shape[1:])
        array = group.create_array(
            name,
            shape=values.shape,
            dtype=dtype,
            chunks=(2, *values.shape[1:]) if shards and name == "showers" else chunks,
            shards=(8, *values.shape[1:]) if shards and name == "showers" else None,
            chunk_key_encoding={"name": "default", "separator": separator},
            compressors=compressors,
        )
        array[...] = values.astype(dtype)
    group.create_array("shape", data=np.asarray([N, P, F], dtype=f"{byteorder}i4"))
    return path


CASES = {
    "big-endian": {"byteorder": ">"},
    "dot keys": {"separator": "."},
    "sharded": {"shards": True},
    "zstd": {"compressors": ZstdCodec(level=3)},
    "gzip": {"compressors": GzipCodec(level=2)},
    "blosc zstd": {"compressors": BloscCodec(cname="zstd", clevel=5)},
    "uncompressed": {"compressors": None},
    "layout 1": {"layout_version": 1},
    "big-endian sharded with dot keys": {
        "byteorder": ">",
        "separator": ".",
        "shards": True,
    },
}


@pytest.mark.parametrize("case", CASES)
def test_plain_zarr_stores_read_as_written(tmp_path, arrays, case):
    values, showers = arrays
    path = write_plain_store(tmp_path / "plain.zarr", values, **CASES[case])
    lazy = showerdata.load(path)
    assert_showers_equal(lazy.compute(), showers)
    assert_showers_equal(lazy[[30, 2, 9]].compute(), showers[[30, 2, 9]])
    cropped = showerdata.load(path, 5, 20, max_points=9).compute()
    np.testing.assert_array_equal(cropped.points, values["showers"][5:20, :9])
    np.testing.assert_array_equal(
        cropped.num_points, np.minimum(values["num_points"][5:20], 9)
    )


def test_a_store_of_strings_is_refused_before_decoding(tmp_path, arrays):
    values, _ = arrays
    path = write_plain_store(tmp_path / "strings.zarr", values)
    group = zarr.open_group(path, mode="r+")
    del group["pdg"]
    group.create_array("pdg", shape=(N,), dtype=str)
    with pytest.raises(ShowerDataError, match="pdg") as error:
        showerdata.load(path)
    assert "numbers" in str(error.value)
