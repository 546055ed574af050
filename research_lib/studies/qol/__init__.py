"""The quality-of-life study (notebook ``notebooks/qol_study.ipynb``): see :mod:`.pipeline`."""
