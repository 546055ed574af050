"""The library's version (the foundation layer: imported by the package and the report footers)."""

__version__ = "0.1.0"
