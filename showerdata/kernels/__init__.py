"""Numba kernels: every hot loop of showerdata lives in this package."""
