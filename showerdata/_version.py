"""The version written into every file's ``showerdata_version`` attribute."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("showerdata")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
