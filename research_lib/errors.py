"""Errors raised for input that cannot be used as a whole.

A row-level problem never raises: it goes to ``LoadResult.rejected``. These
exceptions are for a file or a parameter the library cannot work with at all,
and their message always names the file (or parameter) and says how to fix it.
"""

from __future__ import annotations

__all__ = ["InputError", "CodebookError"]


class InputError(ValueError):
    """A file that cannot be read as a whole (empty, not a table, unknown format,
    a required column missing) or a parameter that names nothing known.

    The message names the file and says how to fix it.
    """


class CodebookError(InputError):
    """A codebook YAML file with a mistake; the message names the wrong key."""
