"""Clustering hits into readout cells (0.7's module path ``cluster_module``)."""

from __future__ import annotations

from .legacy_cli import add_cluster_arguments as add_parser_arguments
from .legacy_cli import initialize_cluster_parser as initialize_parser
from .legacy_cli import run_cluster as main
from .ops.clustering import cluster

__all__ = ["add_parser_arguments", "cluster", "initialize_parser", "main"]

if __name__ == "__main__":
    main(initialize_parser().parse_args())
