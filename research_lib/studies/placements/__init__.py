"""The placement study (notebook ``notebooks/placements_study.ipynb``): see :mod:`.pipeline`."""
