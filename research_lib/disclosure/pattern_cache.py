"""A batch's linked suppression pattern, chosen once and kept on disk by content.

Every report of a batch hides the part of one linked pattern chosen over the
country and all 28 oblasts (:func:`research_lib.disclosure.linked.protect_linked`),
built from the whole data set so that a report run alone hides what the batch
hides. Choosing it is the costly step of a run (for the demo placement episodes
about 25 s: the yearly counts and spell tables of 29 scopes, then the intruder's
linear programmes), and it is the same for every report of the batch.

:func:`cached_pattern` keeps it in a file named by a sha256 over everything it
depends on (:func:`pattern_key`): the data it was built from, ``min_cell`` and
the library's code (:func:`research_lib.io.digests.code_hash`). The first run
chooses it; every later run with the same data, ``min_cell`` and code reads it.
The file holds only which cells are hidden, never a count. A run therefore
publishes the same figures whether the pattern was chosen or read (tested), and
any change to the data, ``min_cell`` or the library gives a new key: nothing
stale is ever read.

Where: ``.cache/patterns/`` in the project (ignored by git), or the folder named
by the environment variable :data:`CACHE_ENV`; ``DI_PATTERN_CACHE=off`` turns the
cache off. A file that cannot be read is chosen again; a folder that cannot be
written to leaves the run uncached.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from research_lib.io.digests import code_hash, frame_digest
from research_lib.paths import PROJECT_ROOT

__all__ = ["CACHE_ENV", "DEFAULT_CACHE_DIR", "pattern_cache_dir", "pattern_key", "cached_pattern"]

#: Environment variable naming the cache folder (``off`` turns the cache off).
CACHE_ENV = "DI_PATTERN_CACHE"
#: The cache folder when :data:`CACHE_ENV` is not set.
DEFAULT_CACHE_DIR = PROJECT_ROOT / ".cache" / "patterns"

_OFF = {"", "off", "0", "no", "false"}


def pattern_cache_dir() -> Path | None:
    """The folder of cached patterns, or ``None`` when the cache is off."""
    value = os.environ.get(CACHE_ENV)
    if value is None:
        return DEFAULT_CACHE_DIR
    if value.strip().lower() in _OFF:
        return None
    return Path(value).expanduser()


def pattern_key(*parts: object) -> str:
    """A sha256 over the library's code and ``parts`` (tables by content, others by ``repr``).

    Examples
    --------
    >>> a = pd.DataFrame({"n": [3, 7]})
    >>> pattern_key(a, 5) == pattern_key(a.copy(), 5), pattern_key(a, 5) == pattern_key(a, 3)
    (True, False)
    """
    digest = hashlib.sha256(code_hash().encode())
    for part in parts:
        if isinstance(part, pd.DataFrame | pd.Series):
            text = f"frame:{frame_digest(part)}"
        else:
            text = f"{type(part).__name__}:{part!r}"
        digest.update(f"{text}\0".encode())
    return digest.hexdigest()


def cached_pattern(name: str, key: str, choose: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """The pattern stored under ``name`` and ``key``, or ``choose()`` stored there first.

    Parameters
    ----------
    name : str
        What the pattern is for (a study), part of the file name.
    key : str
        :func:`pattern_key` of everything the pattern depends on.
    choose : callable
        Chooses the pattern: a table of flags and labels, without counts (it is
        written to disk as it is).

    Returns
    -------
    DataFrame
        ``choose()``'s table, with a fresh ``RangeIndex``; read back from the
        file when it was already there (same values and types).
    """
    folder = pattern_cache_dir()
    if folder is None:
        return choose().reset_index(drop=True)
    path = folder / f"{name}-{key}.parquet"
    if path.is_file():
        try:
            return pd.read_parquet(path)
        except Exception as error:  # a damaged file: choose again and replace it
            warnings.warn(
                f"pattern cache {path.name} unreadable ({error}); choosing again", stacklevel=3
            )
    pattern = choose().reset_index(drop=True)
    _store(pattern, path)
    return pattern


def _store(pattern: pd.DataFrame, path: Path) -> None:
    """Write atomically (a concurrent reader sees the old file or the whole new one)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        os.close(handle)
        try:
            pattern.to_parquet(temporary, index=False)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as error:  # read-only project: the run goes on uncached
        warnings.warn(f"pattern cache not written ({error})", stacklevel=4)
