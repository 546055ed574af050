"""Content hashes: of a file, a folder of files, the library's code and a table.

Hashes are of *contents*, so copying the project to another machine or touching
a file changes nothing, while changing one byte does. The runner uses them for
provenance and to skip unchanged reruns (:mod:`research_lib.runner.provenance`);
the linked-disclosure cache keys its patterns on them
(:mod:`research_lib.disclosure.pattern_cache`).

* :func:`sha256_file`, :func:`tree_hash`, :func:`code_hash` — files and folders;
* :func:`frame_digest` — a pandas table (values, index, column names and types).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from pathlib import Path

import pandas as pd

from research_lib.paths import REFERENCE_DIR

__all__ = ["sha256_file", "tree_hash", "code_hash", "frame_digest"]

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # research_lib/
_CODE_SUFFIXES = {".py", ".yaml", ".yml", ".csv", ".json", ".txt"}


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """The sha256 of a file's contents, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _tree_files(folder: Path, suffixes: Collection[str] | None = _CODE_SUFFIXES) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and (suffixes is None or p.suffix in suffixes)
        and "__pycache__" not in p.parts
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def tree_hash(folder: str | Path, suffixes: Collection[str] | None = None) -> str:
    """One sha256 over the files in ``folder`` (all of them, or those ending in ``suffixes``).

    Each file contributes its relative path and its contents; hidden files and
    ``__pycache__`` are left out. Used for an input that is a folder of files.
    """
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in _tree_files(folder, suffixes):
        digest.update(f"{path.relative_to(folder).as_posix()}\0".encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def code_hash(folders: Sequence[Path] | None = None) -> str:
    """One sha256 over the sources a notebook's results depend on.

    By default the ``research_lib`` package (modules, labels, package data) and
    ``data/reference`` (the oblast table and other reference files). Each file
    contributes its path relative to its folder and its contents, so a renamed
    or an added module also changes the hash.
    """
    folders = tuple(folders) if folders is not None else (_PACKAGE_DIR, REFERENCE_DIR)
    digest = hashlib.sha256()
    for folder in folders:
        digest.update(f"{Path(folder).name}\0".encode())
        digest.update(tree_hash(folder, _CODE_SUFFIXES).encode())
    return digest.hexdigest()


def frame_digest(frame: pd.DataFrame | pd.Series) -> str:
    """One sha256 over a table's values, index, column names and dtypes.

    Two tables that :func:`pandas.testing.assert_frame_equal` calls equal (same
    order, same types) get the same digest; any changed value, row order,
    column name or dtype gives another.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> frame_digest(a) == frame_digest(a.copy()), frame_digest(a) == frame_digest(a + 1)
    (True, False)
    """
    digest = hashlib.sha256()
    table = frame.to_frame() if isinstance(frame, pd.Series) else frame
    digest.update(repr([(str(c), str(t)) for c, t in table.dtypes.items()]).encode())
    digest.update(repr(list(map(str, table.index.names))).encode())
    digest.update(pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes())
    return digest.hexdigest()
