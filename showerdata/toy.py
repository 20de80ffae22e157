"""Seeded generator of physically plausible toy calorimeter showers.

The toy showers are meant for tests, demos and benchmarks: they have the same
layout as real data (zero-padded point clouds plus per-shower metadata) and
roughly the right statistical shape (hit counts growing with energy, a
longitudinal profile whose maximum moves deeper with ``log(E)``, a dense
radial core with a wide halo, small positive hit energies and times), but
they are not a detector simulation.

Every shower is a pure function of ``(seed, global shower index, keyword
parameters)``.  Showers are drawn in fixed blocks of :data:`BLOCK` showers,
each from its own random stream, so any sub-range can be produced on its own
and ``toy_arrays(a, c)`` always equals ``toy_arrays(a, b)`` concatenated with
``toy_arrays(b, c)``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
from typing import Any

import numpy as np

from .buffers import zeros
from .showers import Showers

__all__ = ["BLOCK", "NUM_LAYERS", "NUM_ECAL_LAYERS", "toy_arrays", "toy_showers"]

#: Number of showers drawn from one random stream.  Changing it changes the
#: content of every generated data set, so it is part of the format contract.
BLOCK = 1024

#: Total number of calorimeter layers (ECAL followed by HCAL).
NUM_LAYERS = 78
#: Number of ECAL layers; layers ``NUM_ECAL_LAYERS..NUM_LAYERS-1`` are HCAL.
NUM_ECAL_LAYERS = 30

# Longitudinal pitch of the layers in mm.  Only used to turn a layer index into
# a physical depth for the time of flight and for tilting the shower axis.
_ECAL_PITCH_MM = 5.25
_HCAL_PITCH_MM = 26.5
_SPEED_OF_LIGHT_MM_PER_NS = 299.792458

# Smallest hit energy [GeV] / time [ns] we emit.  The lognormal / exponential
# draws are positive in exact arithmetic, but an extreme tail value could
# still round to 0 in float32, and 0 is reserved for padding.
_MIN_HIT_ENERGY_GEV = 1e-9
_MIN_TIME_NS = 1e-6

_EM_PDGS = frozenset({11, -11, 22})


@dataclasses.dataclass(frozen=True)
class _ShowerModel:
    """Parameters of the toy shower model for one particle class.

    Depths are measured in the model's natural length unit: radiation lengths
    for electromagnetic showers, interaction lengths for hadronic ones.
    """

    hits_per_gev: float
    # Relative per-shower fluctuation of the hit count on top of Poisson
    # noise; real hit counts fluctuate more than Poisson would suggest.
    hit_count_spread: float
    # Shower maximum: t_max = tmax_slope * ln(E / tmax_scale_gev) + tmax_offset
    tmax_slope: float
    tmax_scale_gev: float
    tmax_offset: float
    # Rate parameter b of the gamma profile t^(a-1) exp(-b t).
    profile_rate: float
    # Mean depth of the first interaction (0 for EM: already in t_max).
    first_interaction_mean: float
    ecal_layer_depth: float
    hcal_layer_depth: float
    core_fraction: float
    ecal_core_mm: float
    ecal_halo_mm: float
    hcal_core_mm: float
    hcal_halo_mm: float
    hit_energy_median_gev: float
    hit_energy_log_sigma: float
    time_mean_ns: float

    def __post_init__(self) -> None:
        # _generate_block maps depth to layer as the minimum of two lines,
        # which is only right if HCAL layers are at least as thick as ECAL ones.
        if self.ecal_layer_depth > self.hcal_layer_depth:
            raise ValueError("ECAL layers must not be thicker than HCAL layers")


# Electromagnetic shower: Longo-style profile with a tungsten-like critical
# energy; 30 ECAL layers of 0.8 X0 give ~24 X0, enough to contain photons up
# to a few hundred GeV, so only a small tail leaks into the HCAL.
_EM_MODEL = _ShowerModel(
    hits_per_gev=22.0,
    hit_count_spread=0.05,
    tmax_slope=1.0,
    tmax_scale_gev=0.008,
    tmax_offset=0.5,
    profile_rate=0.5,
    first_interaction_mean=0.0,
    ecal_layer_depth=0.8,
    hcal_layer_depth=1.2,
    core_fraction=0.7,
    ecal_core_mm=10.0,
    ecal_halo_mm=40.0,
    hcal_core_mm=25.0,
    hcal_halo_mm=80.0,
    hit_energy_median_gev=0.5e-3,
    hit_energy_log_sigma=1.0,
    time_mean_ns=3.0,
)

# Hadronic shower: depths in interaction lengths (ECAL ~1 lambda, HCAL
# ~5.8 lambda), a random first interaction point, a slower growth of the
# shower maximum with energy, fewer and more fluctuating hits, wider spread
# and a slower (neutron-driven) time tail.
_HADRON_MODEL = _ShowerModel(
    hits_per_gev=15.0,
    hit_count_spread=0.15,
    tmax_slope=0.2,
    tmax_scale_gev=1.0,
    tmax_offset=0.7,
    profile_rate=1.0,
    first_interaction_mean=1.0,
    ecal_layer_depth=1.0 / 30.0,
    hcal_layer_depth=0.12,
    core_fraction=0.5,
    ecal_core_mm=20.0,
    ecal_halo_mm=80.0,
    hcal_core_mm=40.0,
    hcal_halo_mm=120.0,
    hit_energy_median_gev=0.5e-3,
    hit_energy_log_sigma=1.2,
    time_mean_ns=5.0,
)


def _model_for(pdg: int) -> _ShowerModel:
    """Pick the shower model for a particle code."""
    if pdg in _EM_PDGS:
        if abs(pdg) == 11:
            # Electrons start showering immediately, photons first have to
            # convert, hence the shallower maximum (Longo: C = -0.5 vs +0.5).
            return dataclasses.replace(_EM_MODEL, tmax_offset=-0.5)
        return _EM_MODEL
    return _HADRON_MODEL


def _layer_z_mm() -> np.ndarray:
    """Depth of the centre of every layer in mm, indexed by layer."""
    layer = np.arange(NUM_LAYERS, dtype=np.float64)
    ecal = (layer + 0.5) * _ECAL_PITCH_MM
    hcal = (
        NUM_ECAL_LAYERS * _ECAL_PITCH_MM
        + (layer - NUM_ECAL_LAYERS + 0.5) * _HCAL_PITCH_MM
    )
    return np.where(layer < NUM_ECAL_LAYERS, ecal, hcal).astype(np.float32)


_LAYER_Z_MM = _layer_z_mm()


@dataclasses.dataclass
class _Block:
    """All showers of one internal block, points stored flat (ragged)."""

    energies: np.ndarray  # (BLOCK,) float64
    directions: np.ndarray  # (BLOCK, 3) float64
    num_points: np.ndarray  # (BLOCK,) int64
    offsets: np.ndarray  # (BLOCK + 1,) int64, CSR offsets into `points`
    points: np.ndarray  # (total, F) float32


def _generate_block(
    seed: int,
    block_index: int,
    *,
    max_points: int,
    num_features: int,
    energy_range: tuple[float, float],
    model: _ShowerModel,
    angle_spread: float,
) -> _Block:
    """Draw one full block of showers from its own random stream.

    The whole block is always drawn, even if only part of it is requested,
    because the random draws of later showers depend on the earlier ones.
    """
    # Two independent child streams: per-shower quantities never shift the
    # per-point stream, and every draw happens regardless of the options (e.g.
    # angle_spread == 0) so toggling one option does not reshuffle the rest.
    shower_ss, point_ss = np.random.SeedSequence([seed, block_index]).spawn(2)
    srng = np.random.default_rng(shower_ss)
    prng = np.random.default_rng(point_ss)
    m = BLOCK

    # --- per-shower quantities ------------------------------------------
    low, high = energy_range
    energy = srng.uniform(low, high, m)
    count_scale = 1.0 + model.hit_count_spread * srng.standard_normal(m)
    # Clip so a far negative fluctuation cannot make the Poisson mean <= 0.
    count_scale = np.maximum(count_scale, 0.2)
    raw_count = srng.poisson(model.hits_per_gev * energy * count_scale)
    # A real shower always deposits something, so keep at least one hit.
    raw_count = np.maximum(raw_count, 1)
    num_points = np.minimum(raw_count, max_points).astype(np.int64)

    cos_u = srng.random(m)
    phi_dir = srng.uniform(0.0, 2.0 * np.pi, m)
    first_interaction = model.first_interaction_mean * srng.standard_exponential(m)

    # Uniform over the spherical cap of half-angle `angle_spread` around +z.
    cos_theta = 1.0 - cos_u * (1.0 - math.cos(angle_spread))
    sin_theta = np.sqrt(np.maximum(0.0, 1.0 - cos_theta * cos_theta))
    directions = np.empty((m, 3))
    # "+ 0.0" turns the -0.0 produced by 0 * cos(phi < 0) into +0.0, so the
    # default directions are bit-identical to (0, 0, 1).
    directions[:, 0] = sin_theta * np.cos(phi_dir) + 0.0
    directions[:, 1] = sin_theta * np.sin(phi_dir) + 0.0
    directions[:, 2] = cos_theta

    offsets = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(num_points, out=offsets[1:])
    total = int(offsets[-1])

    # --- per-point quantities -------------------------------------------
    # Per-point arithmetic runs in float32: the output is float32 anyway and
    # float32 transcendentals are several times faster than float64 ones.
    f32 = np.float32
    owner = np.repeat(np.arange(m), num_points)
    points = np.empty((total, num_features), dtype=f32)

    # Longitudinal: gamma profile t^(a-1) e^(-b t) with maximum (a-1)/b = t_max.
    t_max = model.tmax_slope * np.log(energy / model.tmax_scale_gev)
    t_max = np.maximum(t_max + model.tmax_offset, 0.1)
    shape = (1.0 + model.profile_rate * t_max).astype(f32)
    depth = prng.standard_gamma(shape[owner], dtype=f32)
    depth *= f32(1.0 / model.profile_rate)
    depth += first_interaction.astype(f32)[owner]
    # Depth -> continuous layer position is piecewise linear with a smaller
    # slope in the HCAL (thicker layers), i.e. concave, so it is the minimum
    # of the ECAL and HCAL lines; cheaper than np.where or np.interp.
    ecal_depth = NUM_ECAL_LAYERS * model.ecal_layer_depth
    layer = np.minimum(
        depth * f32(1.0 / model.ecal_layer_depth),
        (depth - f32(ecal_depth)) * f32(1.0 / model.hcal_layer_depth)
        + f32(NUM_ECAL_LAYERS),
    )
    del depth
    layer_index = np.clip(layer, 0, NUM_LAYERS - 1).astype(np.intp)
    del layer
    points[:, 2] = layer_index
    z_mm = _LAYER_Z_MM[layer_index]

    # Radial: exponential core + exponential halo (an exponential rather than
    # a Gaussian tail so that a realistic few points reach 200+ mm).  The
    # scale is looked up by (is_core, in_ecal) from a 4-entry table.
    scale_table = np.array(
        [
            model.hcal_halo_mm,
            model.hcal_core_mm,
            model.ecal_halo_mm,
            model.ecal_core_mm,
        ],
        dtype=f32,
    )
    category = (prng.random(total, dtype=f32) < model.core_fraction).view(np.int8)
    category = category + 2 * (layer_index < NUM_ECAL_LAYERS).view(np.int8)
    del layer_index
    radius = prng.standard_exponential(total, dtype=f32)
    radius *= scale_table[category]
    del category
    phi = prng.random(total, dtype=f32)
    phi *= f32(2.0 * np.pi)
    points[:, 0] = radius * np.cos(phi)
    points[:, 1] = radius * np.sin(phi)
    del radius, phi
    if angle_spread > 0.0:
        # Tilted showers drift sideways with depth along their axis.
        slope = (directions[:, :2] / directions[:, 2:]).astype(f32)
        points[:, 0] += z_mm * slope[owner, 0]
        points[:, 1] += z_mm * slope[owner, 1]

    # Hit energies: lognormal around ~0.5 MeV.  When the hit count is capped
    # the remaining hits carry the energy of the dropped ones (as if merged),
    # so the visible energy stays proportional to the incident energy.
    log_merge = np.log(raw_count / np.maximum(num_points, 1))
    log_e = prng.standard_normal(total, dtype=f32)
    log_e *= f32(model.hit_energy_log_sigma)
    log_e += (math.log(model.hit_energy_median_gev) + log_merge).astype(f32)[owner]
    np.exp(log_e, out=log_e)
    points[:, 3] = np.maximum(log_e, f32(_MIN_HIT_ENERGY_GEV))
    del log_e

    if num_features == 5:
        # Drawn last, so the first four columns do not depend on num_features.
        hit_time = prng.standard_exponential(total, dtype=f32)
        hit_time *= f32(model.time_mean_ns)
        hit_time += z_mm * f32(1.0 / _SPEED_OF_LIGHT_MM_PER_NS)
        points[:, 4] = np.maximum(hit_time, f32(_MIN_TIME_NS))

    return _Block(
        energies=energy,
        directions=directions,
        num_points=num_points,
        offsets=offsets,
        points=points,
    )


def _validate(
    start: int,
    stop: int,
    seed: int,
    max_points: int,
    num_features: int,
    energy_range: tuple[float, float],
    angle_spread: float,
) -> None:
    """Raise ``ValueError`` for arguments the generator cannot honour."""
    if start < 0 or stop < start:
        raise ValueError(f"need 0 <= start <= stop, got start={start}, stop={stop}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if max_points < 0:
        raise ValueError(f"max_points must be non-negative, got {max_points}")
    if num_features not in (4, 5):
        raise ValueError(f"num_features must be 4 or 5, got {num_features}")
    low, high = energy_range
    if not (math.isfinite(low) and math.isfinite(high) and 0.0 < low <= high):
        raise ValueError(f"need 0 < low <= high for energy_range, got {energy_range}")
    # Beyond pi/2 the shower would enter the calorimeter from the back.
    if not 0.0 <= angle_spread < math.pi / 2:
        raise ValueError(f"angle_spread must be in [0, pi/2), got {angle_spread}")


def toy_arrays(
    start: int,
    stop: int,
    *,
    seed: int = 0,
    max_points: int = 2000,
    num_features: int = 5,
    energy_range: tuple[float, float] = (10.0, 90.0),
    pdg: int = 22,
    angle_spread: float = 0.0,
) -> dict[str, np.ndarray]:
    """Generate toy calorimeter showers with global indices ``start..stop-1``.

    The content of shower ``i`` depends only on ``seed``, ``i`` and the
    keyword parameters, never on how a range is split into calls.

    Parameters
    ----------
    start, stop : int
        Half-open range of global shower indices, ``0 <= start <= stop``.
    seed : int, optional
        Non-negative base seed of the data set.
    max_points : int, optional
        Padded number of points per shower ``P``; hit counts are capped at it.
    num_features : int, optional
        ``4`` for ``(x, y, z, e)`` or ``5`` for ``(x, y, z, e, t)``.  The first
        four columns are identical for both choices.
    energy_range : tuple of float, optional
        ``(low, high)`` of the uniform incident-energy distribution in GeV.
    pdg : int, optional
        PDG particle code stored for every shower; ``22`` and ``+-11`` give
        electromagnetic showers, anything else a hadronic toy shower.
    angle_spread : float, optional
        Half-angle in radians (``< pi/2``) of the cone around ``+z`` in which
        the incident directions are drawn uniformly; ``0`` gives ``(0, 0, 1)``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``points`` float32 ``(n, P, F)`` with columns x [mm], y [mm],
        z = layer index (0..77, integer-valued), e [GeV] > 0 and optionally
        t [ns] > 0, real points first and exact zero padding after;
        ``num_points`` int32 ``(n,)``; ``energies`` float32 ``(n, 1)`` in GeV;
        ``directions`` float32 ``(n, 3)`` unit vectors; ``pdg`` int32
        ``(n,)``; ``shower_ids`` int32 ``(n,)`` equal to
        ``arange(start, stop)``.

    Raises
    ------
    ValueError
        If an argument is out of its documented range.

    Examples
    --------
    >>> data = toy_arrays(0, 3, max_points=100, num_features=4)
    >>> data["points"].shape
    (3, 100, 4)
    """
    start, stop, seed = int(start), int(stop), int(seed)
    max_points, num_features = int(max_points), int(num_features)
    energy_range = (float(energy_range[0]), float(energy_range[1]))
    angle_spread = float(angle_spread)
    _validate(start, stop, seed, max_points, num_features, energy_range, angle_spread)
    model = _model_for(int(pdg))

    n = stop - start
    # Reused memory (see showerdata.buffers): a chunk of fresh pages cost more
    # than drawing its showers.
    points = zeros((n, max_points, num_features))
    num_points = np.zeros(n, dtype=np.int32)
    energies = np.zeros((n, 1), dtype=np.float32)
    directions = np.zeros((n, 3), dtype=np.float32)
    column = np.arange(max_points)

    if n > 0:
        for block_index in range(start // BLOCK, (stop - 1) // BLOCK + 1):
            block_start = block_index * BLOCK
            lo = max(start, block_start) - block_start
            hi = min(stop, block_start + BLOCK) - block_start
            block = _generate_block(
                seed,
                block_index,
                max_points=max_points,
                num_features=num_features,
                energy_range=energy_range,
                model=model,
                angle_spread=angle_spread,
            )
            out = slice(block_start + lo - start, block_start + hi - start)
            counts = block.num_points[lo:hi]
            num_points[out] = counts
            energies[out, 0] = block.energies[lo:hi]
            directions[out] = block.directions[lo:hi]
            # Boolean-mask assignment fills the masked (row, column) slots in
            # row-major order, which is exactly the CSR order of the block.
            mask = column < counts[:, None]
            points[out][mask] = block.points[block.offsets[lo] : block.offsets[hi]]

    return {
        "points": points,
        "num_points": num_points,
        "energies": energies,
        "directions": directions,
        "pdg": np.full(n, pdg, dtype=np.int32),
        "shower_ids": np.arange(start, stop, dtype=np.int32),
    }


def toy_showers(
    num_showers: int,
    *,
    chunks: int | None = None,
    seed: int = 0,
    max_points: int = 2000,
    num_features: int = 5,
    **model: Any,
) -> Showers:
    """A lazy toy production of ``num_showers`` showers.

    Each chunk is generated by one task when computed, so a production larger
    than memory can be written with :func:`showerdata.save`. The content does
    not depend on ``chunks``.

    Parameters
    ----------
    num_showers : int
        Number of showers.
    chunks : int, optional
        Showers per dask chunk; default about ``showerdata.chunk-bytes`` of points.
    seed, max_points, num_features, **model
        As for :func:`toy_arrays`.

    Returns
    -------
    Showers
        Lazy showers.
    """
    from dask.base import tokenize

    from .config import chunk_lengths, showers_per_chunk
    from .graphs import lazy_from_tasks

    chunk = chunks or showers_per_chunk(max_points, num_features)
    lengths = chunk_lengths(num_showers, chunk)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int).tolist()
    options = dict(seed=seed, max_points=max_points, num_features=num_features, **model)
    generate = functools.partial(toy_arrays, **options)
    token = tokenize(num_showers, chunk, options)
    # One generating task per chunk; every field picks its array from it.
    shared = {
        (f"toy-{token}", i): (generate, a, a + n)
        for i, (a, n) in enumerate(zip(starts, lengths, strict=True))
    }
    tails = {
        "points": ((max_points, num_features), "float32"),
        "energies": ((1,), "float32"),
        "pdg": ((), "int32"),
        "directions": ((3,), "float32"),
        "shower_ids": ((), "int32"),
        "num_points": ((), "int32"),
    }
    fields = {
        name: lazy_from_tasks(
            f"toy-{name}-{token}",
            operator.getitem,
            [((f"toy-{token}", i), name) for i in range(len(lengths))],
            lengths,
            tail,
            dtype,
            dependencies=shared,
        )
        for name, (tail, dtype) in tails.items()
    }
    return Showers._from_fields(fields)
