"""Files in and out: reading only regular files (never blocking on a pipe or a device), writing so that an
interruption leaves the old file or the complete new one, never half a file, and refusing runs where two
roles (an input, an output, a backup, a report, a glossary, the memory) name the same file."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from pathlib import Path

from bayling_cat.errors import UserError

_KINDS = ((stat.S_ISDIR, "a folder, not a file"), (stat.S_ISFIFO, "a named pipe, not a regular file"),
          (stat.S_ISSOCK, "a socket, not a regular file"), (stat.S_ISCHR, "a character device, not a regular file"),
          (stat.S_ISBLK, "a block device, not a regular file"))


def _not_regular(path: Path, mode: int) -> str:
    return next((f"{path}: {what}" for test, what in _KINDS if test(mode)), f"{path}: not a regular file")


def _missing(path: Path) -> str:
    if path.is_symlink():
        try:
            return f"{path}: a broken symbolic link (to {os.readlink(path)})"
        except OSError:
            return f"{path}: a broken symbolic link"
    return f"{path}: no such file"


def check_regular(path: str | os.PathLike) -> None:
    """Raise a one-line UserError unless ``path`` is a regular file this process can read."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UserError(_missing(path)) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode):
        raise UserError(_not_regular(path, mode))
    if not os.access(path, os.R_OK):
        raise UserError(f"{path}: cannot read (permission denied)")


def read_regular(path: str | os.PathLike) -> bytes:
    """The bytes of a regular file; a folder, pipe, socket, device, broken link or unreadable file is a one-line
    UserError. Opened non-blocking and checked on the open descriptor, so a named pipe with no writer never
    hangs the run and a file swapped between the check and the read is still caught."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise UserError(_missing(path)) from None
    except IsADirectoryError:
        raise UserError(f"{path}: a folder, not a file") from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a pipe opened for writing elsewhere
            raise UserError(f"{path}: a socket, not a regular file") from None
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UserError(_not_regular(path, mode))
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file: after symbolic links, and as hard links of one inode."""
    a, b = Path(a), Path(b)
    try:
        if a.resolve() == b.resolve():
            return True
    except (OSError, RuntimeError):  # a symlink loop: compare what can be compared
        if os.path.abspath(a) == os.path.abspath(b):
            return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def _identity(path: Path) -> set[tuple]:
    """What makes a path a file: where it leads after symbolic links, and its inode once it exists."""
    keys: set[tuple] = {("path", os.path.realpath(path))}
    try:
        st = os.stat(path)
        keys.add(("inode", st.st_dev, st.st_ino))
    except (OSError, ValueError):
        pass
    return keys


def check_distinct(writes: list[tuple], reads: list[tuple[str, Path]]) -> None:
    """Refuse a run where a file it writes is also a file it reads, or is written twice.

    ``writes`` and ``reads`` are (role, path) pairs, the role in words ("the report", "the output of a.xlf");
    a write may carry a third item, the one file it is meant to replace (--in-place's own input). Each path is
    looked at once (a folder of thousands of files costs thousands of stat calls, not millions).
    """
    read_by: dict[tuple, tuple[str, Path]] = {}
    for role, path in reads:
        for key in _identity(Path(path)):
            read_by.setdefault(key, (role, path))
    written: dict[tuple, str] = {}
    for role, path, *own in writes:
        keys = _identity(Path(path))
        allowed = _identity(Path(own[0])) if own else set()
        for key in keys:
            if key in read_by and key not in allowed:
                raise UserError(f"{path}: {role} would overwrite {read_by[key][0]}; choose another path")
            if key in written:
                raise UserError(f"{path}: {role} and {written[key]} are the same file; choose another path")
        for key in keys:
            written[key] = role


def check_writable(path: str | os.PathLike, what: str = "file") -> None:
    """Fail before any work when ``path`` (a file to be written) cannot be created: it is a folder, a folder on
    its way is a file, or the nearest existing folder is not writable."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: a folder; the {what} needs a file name")
    parent = path.parent
    while not parent.exists():
        if parent.is_symlink():
            raise UserError(f"{path}: cannot write the {what} ({parent} is a broken symbolic link)")
        if parent.parent == parent:
            break
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{path}: cannot write the {what} ({parent} is a file, not a folder)")
    if parent.is_dir() and not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{path}: cannot write the {what} (the folder {parent} is not writable)")


def _write_error(path: Path, exc: OSError) -> UserError:
    if exc.errno == errno.ENOSPC:
        return UserError(f"{path}: disk full; nothing was written")
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and not path.parent.is_dir():
        return UserError(f"{path}: cannot write ({path.parent} is not a folder); nothing was written")
    return UserError(f"{path}: cannot write ({exc.strerror or exc}); nothing was written")


def _atomic(path: Path, fill) -> None:
    """Create a temporary file beside ``path``, let ``fill(fh, tmp)`` write it, flush it to disk, rename it over
    ``path``; on any failure the temporary file goes and ``path`` is as it was."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh, tmp)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise _write_error(path, exc) from None
        raise


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    path = Path(path)

    def fill(fh, tmp):
        fh.write(data)
        if path.exists():
            shutil.copymode(path, tmp)
        else:
            os.chmod(tmp, 0o666 & ~_umask())

    _atomic(path, fill)


def copy_atomic(source: str | os.PathLike, path: str | os.PathLike) -> None:
    """Copy ``source`` to ``path`` (contents, mode and times) the same way: a full disk or a crash midway leaves
    the previous ``path`` intact, never a truncated copy (this is how the ``.bak`` of --in-place is made)."""
    path = Path(path)

    def fill(fh, tmp):
        fh.flush()
        shutil.copyfile(source, tmp)  # the kernel's fast copy where there is one
        shutil.copystat(source, tmp)

    _atomic(path, fill)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
