"""Drivers of experiments: they build models from configs and checkpoints,
extract features and run the benchmarks, reports and comparisons.

The metrics they compute live in :mod:`mmodc.evaluation`, which never
imports this package or :mod:`mmodc.engine`. Import the modules directly
(``from mmodc.analysis.odc_report import ODCReport``): each pulls in the
Runner and the models.
"""
