"""Where a run may write, and how it writes there: confinement, locks, atomic replacement.

* :func:`check_reports_root` — the root every report lives under (``reports/``,
  or the folder named once in the environment variable ``DI_REPORTS_ROOT``);
  never ``/``, a home folder, the project itself or a system folder.
* :func:`confine_output` — an ``output_dir`` is accepted only as
  ``<root>/<study>/<name>``, with no symbolic link on the way.
* :func:`check_owner` — a report folder belongs to one study and one scope
  (recorded in its ``provenance.json``); another study or oblast cannot write into it.
* :func:`check_writable` — a read-only folder is found before a kernel starts.
* :func:`folder_lock` — a per-folder lock (``fcntl.flock`` on ``.<name>.lock``
  beside the folder) that serialises runs of one report; :func:`lock_is_held`
  tells whether a run still holds it (the lock dies with its process, so a run
  killed with SIGKILL is seen as interrupted, never as running).
* :func:`make_temp_folder`, :func:`replace_folder` — a run writes into a
  uniquely named hidden folder beside its target; the target is replaced in one
  rename only when the run succeeded.
* :func:`write_text_atomic` — a file written under a unique temporary name, then renamed.

Examples
--------
>>> lock_path(Path("reports/qol/plovdiv")).as_posix()
'reports/qol/.plovdiv.lock'
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from research_lib.errors import InputError
from research_lib.paths import PROJECT_ROOT, REPORTS_ENV

__all__ = [
    "OutputError",
    "check_reports_root",
    "confine_output",
    "check_owner",
    "check_writable",
    "lock_path",
    "folder_lock",
    "lock_is_held",
    "make_temp_folder",
    "remove_stale_temp",
    "replace_folder",
    "write_text_atomic",
]

#: Folders a reports root may never be, nor lie in.
SYSTEM_FOLDERS = tuple(
    Path(p)
    for p in (
        "/etc",
        "/usr",
        "/bin",
        "/sbin",
        "/lib",
        "/lib64",
        "/boot",
        "/proc",
        "/sys",
        "/dev",
        "/var/lib",
        "/root/.ssh",
    )
)


class OutputError(InputError):
    """An output folder that may not or cannot be written (refused before any kernel starts)."""


def _shown(path: Path) -> str:
    """A path for a message: project-relative when inside the project."""
    try:
        return path.relative_to(PROJECT_ROOT).as_posix() or "."
    except ValueError:
        return str(path)


def check_reports_root(root: str | Path) -> Path:
    """The reports root, resolved; refused when it is a place no report belongs.

    Raises
    ------
    OutputError
        For an empty value, ``/``, the home folder, the project root or one of its
        parents, or a system folder such as ``/etc``.
    """
    if str(root).strip() == "":
        raise OutputError(
            f"the reports root is empty; set {REPORTS_ENV} to a folder such as "
            "/srv/di-reports, or leave it unset for reports/."
        )
    path = Path(root).expanduser()
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    resolved = path.resolve()
    home = Path.home().resolve()
    forbidden = {Path("/"), home, *PROJECT_ROOT.resolve().parents, PROJECT_ROOT.resolve()}
    if resolved in forbidden or any(resolved == s or s in resolved.parents for s in SYSTEM_FOLDERS):
        raise OutputError(
            f"reports root {_shown(resolved)} is refused: reports go to their own folder "
            f"(reports/ by default, or one named in {REPORTS_ENV}), never /, a home folder, "
            "the project itself or a system folder."
        )
    return resolved


def confine_output(value: str | Path, root: Path, study: str) -> Path:
    """The report folder an ``output_dir`` names, when it is ``<root>/<study>/<name>``.

    A relative ``value`` is relative to the project root. The path may not be
    empty, leave the root (``..``, ``~``, ``/etc``, a symbolic link pointing
    elsewhere), or hold a symbolic link at all below the root.

    Raises
    ------
    OutputError
        With a message naming the value and the accepted form.
    """
    accepted = f"accepted: {_shown(root)}/{study}/<name>, e.g. {_shown(root)}/{study}/plovdiv"
    text = str(value).strip()
    if not text:
        raise OutputError(f"output_dir is empty; {accepted}.")
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    # No symbolic link anywhere under the root (a link could point outside it).
    try:
        relative = Path(os.path.normpath(path)).relative_to(root)
    except ValueError:
        relative = None
    if relative is not None:
        probe = root
        for part in relative.parts:
            probe = probe / part
            if probe.is_symlink():
                raise OutputError(
                    f"output_dir {text!r}: {_shown(probe)} is a symbolic link; {accepted}."
                )
    resolved = path.resolve()
    try:
        parts = resolved.relative_to(root).parts
    except ValueError:
        raise OutputError(
            f"output_dir {text!r} is outside the reports folder {_shown(root)}/; {accepted}."
        ) from None
    if len(parts) != 2 or parts[0] != study or parts[1].startswith("."):
        raise OutputError(
            f"output_dir {text!r} is not a report folder of study {study!r}; {accepted}."
        )
    return resolved


def check_owner(
    folder: Path,
    study: str,
    scope: str,
    describe: Callable[[str], str] = str,
    *,
    read_provenance: Callable[[Path], Mapping[str, Any] | None],
) -> None:
    """Refuse to write into a folder that belongs to another study or scope.

    A folder that does not exist or is empty belongs to nobody yet. Any other
    folder must hold a ``provenance.json`` naming the same study and oblast
    (read with ``read_provenance``, :func:`research_lib.runner.provenance.read_provenance`:
    passed in, so that this module, which provenance writes with, imports nothing of it).
    """
    if not folder.is_dir():
        if folder.exists() or folder.is_symlink():
            raise OutputError(
                f"{_shown(folder)} is not a folder; a report cannot be written there."
            )
        return
    if not any(folder.iterdir()):
        return
    record = read_provenance(folder)
    if record is None:
        raise OutputError(
            f"{_shown(folder)} holds files but no readable provenance.json, so it is not a "
            "report folder of this workbench; move it away or name another output_dir."
        )
    owner_study, owner_scope = record.get("study"), record.get("oblast")
    if owner_study != study or owner_scope != scope:
        raise OutputError(
            f"{_shown(folder)} holds the {owner_study} report for {describe(str(owner_scope))}; "
            f"a {study} run for {describe(scope)} cannot write into it (each report folder "
            "belongs to one study and one oblast)."
        )


def _reason(err: OSError) -> str:
    if err.errno in (errno.EROFS,):
        return "read-only file system"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if err.errno == errno.ENOSPC:
        return "no space left on the device"
    return err.strerror or type(err).__name__


def _probe_write(folder: Path) -> None:
    """Create and remove a file in ``folder`` (raises OSError when that is impossible)."""
    handle, name = tempfile.mkstemp(prefix=".write-test.", dir=folder)
    os.close(handle)
    os.unlink(name)


def check_writable(folder: Path, root: Path) -> None:
    """Refuse, before a kernel starts, a report folder (or its root) that cannot be written.

    The nearest existing folder among ``folder`` and its parents up to ``root``
    is tested by creating a file in it, and ``root`` itself (where the index
    page goes) too.
    """
    targets = [root]
    probe = folder
    while probe != root and not probe.is_dir():
        probe = probe.parent
    if probe.is_dir() and probe != root:
        targets.insert(0, probe)
        if probe == folder and folder.parent.is_dir():
            targets.insert(1, folder.parent)  # the temporary folder and the lock go beside it
    for target in targets:
        if not target.is_dir():
            continue
        try:
            _probe_write(target)
        except OSError as err:
            raise OutputError(f"cannot write to {_shown(target)}/: {_reason(err)}.") from None


def lock_path(folder: Path) -> Path:
    """The lock file of a report folder: ``.<name>.lock`` beside it."""
    return folder.parent / f".{folder.name}.lock"


@contextlib.contextmanager
def folder_lock(folder: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold the report folder's lock (exclusive, blocking; ``on_wait`` is called before waiting)."""
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(handle)  # closing releases the lock


def lock_is_held(folder: Path) -> bool | None:
    """Whether a run holds the folder's lock now; ``None`` when there is no lock file."""
    path = lock_path(folder)
    try:
        handle = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(handle)
    return False


def make_temp_folder(folder: Path) -> Path:
    """A new, uniquely named hidden folder beside ``folder`` (``.<name>.<random>.tmp``)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))


def remove_stale_temp(folder: Path) -> int:
    """Remove temporary folders left beside ``folder`` by killed runs (call with the lock held)."""
    removed = 0
    for stale in folder.parent.glob(f".{folder.name}.*.tmp"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
            removed += 1
    return removed


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def replace_folder(new: Path, target: Path) -> None:
    """Put the folder ``new`` in the place of ``target`` and delete the old one.

    On Linux the two are exchanged in one system call, so a reader sees either
    the old report or the new one, never a mixture or nothing.
    """
    if not target.exists():
        os.rename(new, target)
        return
    if not _exchange(new, target):
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        os.rename(target, old / "old")
        os.rename(new, target)
        new = old
    shutil.rmtree(new, ignore_errors=True)


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``path`` under a unique temporary name in its folder, then rename it into place."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding=encoding) as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(name, 0o644)
        os.replace(name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return path
