"""Provenance of a study run, and keeping machine details out of what is published.

Every run folder ``reports/<study>/<oblast-slug>/`` holds a ``provenance.json``
that says what produced its report: the parameters, the sha256 of every input
file, of the notebook and of the library's code, package versions (with the
sha256 of the lock file ``requirements.lock`` they were installed from, and
any key package that is not at its locked version), the git commit, when it
ran and whether it succeeded. The same hashes decide whether a
rerun can be skipped (:func:`run_hash`).

* :func:`sha256_file`, :func:`code_hash` — content hashes (the code hash covers
  the notebook's library, ``research_lib``, and the reference tables it reads).
* :func:`package_versions`, :func:`git_state` — the software a run used;
  :func:`locked_versions` reads the pins of the lock file (:data:`LOCK_FILE`).
* :func:`run_hash` — one hash over everything that determines a run's outputs.
* :func:`write_provenance`, :func:`read_provenance` — the JSON record.
* :func:`public_path`, :func:`scrub_text`, :func:`scrub_notebook` — published
  files carry project-relative paths, never a machine path or a home folder.

Notes
-----
Hashes are of file *contents*, so touching a file or copying the project to
another machine does not trigger a rerun, while changing a single byte of the
survey, the codebook, the notebook or the library does.

Examples
--------
>>> scrub_text("/home/ana/project/data/x.csv", [("/home/ana/project/", "")])
'data/x.csv'
>>> len(run_hash({"a": 1}, {"responses": "0" * 64}, "1" * 64, "2" * 64))
64
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from research_lib.io.digests import code_hash, sha256_file, tree_hash
from research_lib.paths import PROJECT_ROOT

__all__ = [
    "PROVENANCE_FILE",
    "VERSIONED_PACKAGES",
    "LOCK_FILE",
    "sha256_file",
    "tree_hash",
    "code_hash",
    "package_versions",
    "locked_versions",
    "git_state",
    "run_hash",
    "write_provenance",
    "read_provenance",
    "public_path",
    "path_replacements",
    "scrub_text",
    "scrub_notebook",
]

PROVENANCE_FILE = "provenance.json"

#: Packages whose versions a provenance record lists.
VERSIONED_PACKAGES = (
    "research_lib",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "pingouin",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "nbclient",
    "ipykernel",
    "pyarrow",
)

#: The lock file ``make setup`` installs from (exact versions and hashes; ``make lock`` writes it).
LOCK_FILE = PROJECT_ROOT / "requirements.lock"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: str | Path = LOCK_FILE) -> dict[str, str]:
    """The ``name==version`` pins of a requirements lock, by normalised name.

    Parameters
    ----------
    lock : str or Path
        A requirements file of exact pins (``--hash`` lines and markers allowed).

    Returns
    -------
    dict
        ``{name: version}``, names lower-case with ``-`` for ``_`` and ``.``; a
        name pinned twice (under different environment markers) keeps its first pin.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     lock = Path(folder) / "requirements.lock"
    ...     pins = ["Pandas==2.3.3 \\\\", "    --hash=sha256:ab", "nh3==0.3.2 ; os_name != 'nt'"]
    ...     _ = lock.write_text("\\n".join(pins))
    ...     locked_versions(lock)
    {'pandas': '2.3.3', 'nh3': '0.3.2'}
    """
    pins: dict[str, str] = {}
    for name, version in _PIN.findall(Path(lock).read_text(encoding="utf-8")):
        pins.setdefault(_canonical(name), version)
    return pins


def package_versions(
    names: Iterable[str] = VERSIONED_PACKAGES, lock: str | Path | None = LOCK_FILE
) -> dict[str, str | None]:
    """Installed versions, Python's, and how they stand to the lock file.

    Parameters
    ----------
    names : iterable of str
        The packages to list (``None`` for one that is not installed).
    lock : str, Path or None
        The lock file the environment was installed from (``make setup``).

    Returns
    -------
    dict
        ``{"python": ..., name: version, ...}``, plus ``"lock_sha256"`` (the
        sha256 of the lock file, which names the exact stack) and
        ``"lock_mismatches"`` (``""`` when each listed package that the lock
        pins is at its locked version, else e.g. ``"pandas 3.1.1 (locked
        2.3.3)"``); both ``None`` when there is no lock file.
    """
    names = tuple(names)
    versions: dict[str, str | None] = {"python": ".".join(str(v) for v in sys.version_info[:3])}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["lock_sha256"] = versions["lock_mismatches"] = None
    if lock is not None and Path(lock).is_file():
        versions["lock_sha256"] = sha256_file(lock)
        locked = locked_versions(lock)
        versions["lock_mismatches"] = "; ".join(
            f"{name} {versions[name]} (locked {locked[_canonical(name)]})"
            for name in names
            if _canonical(name) in locked and versions[name] != locked[_canonical(name)]
        )
    return versions


@cache
def git_state(root: Path = PROJECT_ROOT) -> dict[str, Any] | None:
    """``{"commit": <HEAD sha>, "dirty": bool}``, or ``None`` outside a git work tree.

    Read-only: ``git status`` runs with ``--no-optional-locks`` so it never
    rewrites the index while others work in the tree.
    """
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
            env=env,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env=env,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def run_hash(
    parameters: Mapping[str, Any],
    input_hashes: Mapping[str, str],
    notebook_hash: str,
    code: str,
) -> str:
    """The identity of a run's outputs: parameters, input contents, notebook and code.

    Two runs with the same hash produce the same report, so the second can be skipped.
    """
    payload = json.dumps(
        {
            "parameters": dict(parameters),
            "inputs": dict(input_hashes),
            "notebook": notebook_hash,
            "code": code,
        },
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def write_provenance(folder: str | Path, record: Mapping[str, Any]) -> Path:
    """Write ``provenance.json`` into ``folder`` (atomically: a reader never sees half a file).

    The text goes to a uniquely named temporary file first, so two writers never
    clash, and is renamed into place.
    """
    from research_lib.runner.outputs import write_text_atomic

    path = Path(folder) / PROVENANCE_FILE
    text = json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n"
    return write_text_atomic(path, text)


def read_provenance(folder: str | Path) -> dict[str, Any] | None:
    """The ``provenance.json`` of a run folder, or ``None`` when absent or unreadable."""
    path = Path(folder) / PROVENANCE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def public_path(path: str | Path, bases: Sequence[Path] = ()) -> str:
    """A path as a published file may show it.

    Relative to the project root when inside it, else relative to the first of
    ``bases`` that holds it, else just the file name — never a machine path.
    """
    path = Path(path).expanduser()
    if not path.is_absolute():
        return path.as_posix()
    resolved = path.resolve()
    for base in (PROJECT_ROOT, *bases):
        try:
            return resolved.relative_to(Path(base).resolve()).as_posix() or "."
        except ValueError:
            continue
    return path.name


def path_replacements(extra: Iterable[tuple[str | Path, str]] = ()) -> list[tuple[str, str]]:
    """``(absolute prefix, replacement)`` pairs for :func:`scrub_text`, longest first.

    The project root becomes nothing (paths read project-relative), the home
    folder ``~``, and the Python installation ``<python>``; ``extra`` adds
    folders of a particular run (an output folder outside the project, say).
    """
    pairs: list[tuple[str, str]] = [(str(folder), repl) for folder, repl in extra]
    pairs.append((str(PROJECT_ROOT), "."))
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        pairs.append((prefix, "<python>"))
    home = str(Path.home())
    if home not in {"/", ""}:
        pairs.append((home, "~"))
    expanded: list[tuple[str, str]] = []
    for prefix, repl in pairs:
        for variant in {prefix, str(Path(prefix).resolve())}:
            if len(variant) > 1:
                expanded.append((variant.rstrip("/") + "/", (repl + "/") if repl else ""))
                expanded.append((variant.rstrip("/"), repl or "."))
    return sorted(set(expanded), key=lambda pair: -len(pair[0]))


def scrub_text(text: str, replacements: Sequence[tuple[str, str]]) -> str:
    """Replace absolute path prefixes in ``text`` (see :func:`path_replacements`)."""
    for prefix, repl in replacements:
        if prefix in text:
            text = text.replace(prefix, repl)
    return text


def _scrub(value: Any, replacements: Sequence[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, replacements)
    if isinstance(value, list):
        return [_scrub(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, replacements) for k, v in value.items()}
    return value


def scrub_notebook(
    path: str | Path,
    replacements: Sequence[tuple[str, str]],
    *,
    input_path: str | None = None,
    output_path: str | None = None,
) -> None:
    """Rewrite an executed notebook so it holds no machine path.

    Papermill records ``input_path``, ``output_path``, the parameters and the
    environment in the notebook's metadata, and tracebacks name absolute source
    files: ``input_path``/``output_path`` are set to the given public paths,
    and every string in the metadata, the sources and the outputs is passed
    through :func:`scrub_text`. Images and other binary outputs are left alone.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    meta = nb.metadata.get("papermill")
    if meta is not None:
        if input_path is not None:
            meta["input_path"] = input_path
        if output_path is not None:
            meta["output_path"] = output_path
        meta["environment_variables"] = {}
    nb.metadata = nbformat.from_dict(_scrub(nb.metadata, replacements))
    for cell in nb.cells:
        cell.source = scrub_text(cell.source, replacements)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = _scrub(output["text"], replacements)
            if "traceback" in output:
                output["traceback"] = _scrub(output["traceback"], replacements)
            if "evalue" in output:
                output["evalue"] = scrub_text(output["evalue"], replacements)
            for mime, content in output.get("data", {}).items():
                if mime.startswith("text/") or mime.endswith(("json", "+xml", "javascript")):
                    output["data"][mime] = _scrub(content, replacements)
    nbformat.write(nb, str(path))
