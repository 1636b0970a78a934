"""Writing files so that nothing a user saved is ever lost or silently overwritten.

Every writer in the project (Module.save, viz.save, the CLI, the stepper pages, tl.save) goes
through `write_file`. It writes to a temporary file that it creates exclusively (an
unpredictable name, `O_EXCL | O_NOFOLLOW`, so a planted file or symlink there is never
followed, only skipped) in the target's own folder, flushes it to disk, then publishes it in
one step:

- `overwrite=False`: `os.link(temp, target)`, which fails if anything exists at `target`, a
  dangling symlink included, so a file created between a check and the write is never replaced.
  Where the file system has no hard links (FAT, some network mounts), Linux's
  `renameat2(RENAME_NOREPLACE)` does the same; failing that, the target is created with
  `O_EXCL | O_NOFOLLOW` and written in place (still never replacing anything, but a reader may
  then see it before it is complete, and a failure removes it);
- `overwrite=True`: `os.replace(temp, target)`, which replaces a symlink itself, never the file
  it points to. A replaced regular file keeps its permission bits (a private 0o600 file stays
  private).

A new file gets the permissions of any new file (0o666 less the umask, applied by the kernel:
the umask is never changed, not even for an instant, so other threads are unaffected). Errors
name the target, never the temporary file.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

__all__ = ["write_file"]

# Errors of os.link that mean "this file system has no hard links", not "you may not".
_NO_HARD_LINKS = {
    errno.EPERM,
    errno.EOPNOTSUPP,
    getattr(errno, "ENOTSUP", errno.EOPNOTSUPP),
    errno.EXDEV,
    errno.ENOSYS,
    errno.EMLINK,
}
_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_TEMP_ATTEMPTS = 100


def _temp_name(target: Path) -> str:
    """A fresh unpredictable name next to `target` (hidden; short enough for any file system
    that accepts the target's folder)."""
    return f".{target.name[:40]}.{secrets.token_hex(8)}.tmp"


def _create_temp(folder: Path, target: Path, mode: int = 0o666) -> tuple[int, Path]:
    """Create a new empty file exclusively in `folder` with `mode` (less the umask); anything
    already at a candidate name (a file, or a symlink planted there) is left alone and another
    name is tried."""
    for _ in range(_TEMP_ATTEMPTS):
        temp = folder / _temp_name(target)
        try:
            return os.open(temp, _CREATE_FLAGS, mode), temp
        except FileExistsError:
            continue
    raise FileExistsError(
        errno.EEXIST, f"no free temporary name next to {target} after {_TEMP_ATTEMPTS} tries"
    )


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def _rename_noreplace(temp: Path, target: Path) -> bool:
    """Linux's renameat2(RENAME_NOREPLACE): True if done, False if unavailable here.
    Raises FileExistsError when something is at `target`."""
    import ctypes  # only on file systems without hard links

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_noreplace = -100, 1
    result = renameat2(at_fdcwd, os.fsencode(temp), at_fdcwd, os.fsencode(target), rename_noreplace)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code == errno.EEXIST:
        raise FileExistsError(code, os.strerror(code), str(target))
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # the kernel or the file system does not support the flag
    raise OSError(code, os.strerror(code), str(target))


def _create_in_place(target: Path, data: bytes | memoryview) -> None:
    """The last resort: create `target` exclusively and write into it; on failure remove it
    (it is ours: O_EXCL guarantees that nothing was there)."""
    fd = os.open(target, _CREATE_FLAGS, 0o666)
    try:
        _write_all(fd, data)
    except BaseException:
        os.close(fd)
        os.unlink(target)
        raise
    os.close(fd)


def _publish_exclusive(temp: Path, target: Path, data: bytes | memoryview) -> None:
    """Give the temporary file the name `target` only if nothing has that name."""
    try:
        # The temporary file is never a symlink (created with O_EXCL), so link's default
        # (follow_symlinks=True, the only one every platform supports) is the same here.
        os.link(temp, target)
        return
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in _NO_HARD_LINKS:
            raise
    if not _rename_noreplace(temp, target):
        _create_in_place(target, data)


def _sync_folder(folder: Path) -> None:
    """Make the new name durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _bytes(data) -> bytes | memoryview:
    """The bytes to write; bytes-like data as a view, never a copy (a saved model may be
    most of the memory there is)."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return memoryview(data).cast("B")
    raise TypeError(
        f"write_file: data must be bytes or str, got {type(data).__name__} (encode text, or "
        "save arrays with numpy into a BytesIO first)"
    )


def write_file(
    path, data: bytes | bytearray | memoryview | str, *, overwrite: bool = False
) -> Path:
    """Write `data` (bytes, a bytearray or memoryview, written without a copy, or text
    written as UTF-8) to `path` and return the path.

    Raises `FileExistsError` when something already exists at `path` (a file, a folder or a
    symlink, even a dangling one) unless `overwrite=True`, also when it appears while the data
    is being written. The target is complete or absent, never half-written (except on a file
    system with neither hard links nor RENAME_NOREPLACE, see the module's notes), and no
    temporary file is left behind, whatever fails.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> p = write_file(os.path.join(folder, "a.txt"), "hello")
    >>> p.read_text()
    'hello'
    >>> try:
    ...     write_file(p, "again")
    ... except FileExistsError as e:
    ...     print("refused")
    refused
    >>> write_file(p, "again", overwrite=True).read_text()
    'again'
    """
    text = os.fsdecode(path)
    target = Path(text)
    data = _bytes(data)
    # Path() drops a trailing separator ("out.txt/" would become "out.txt"): open() treats
    # such a path as a folder, and so does write_file.
    ends_in_separator = text.endswith(os.sep) or bool(os.altsep and text.endswith(os.altsep))
    if ends_in_separator or not target.name or target.name in (".", ".."):
        raise IsADirectoryError(errno.EISDIR, "a file name is needed, not a folder", str(path))
    if not overwrite and os.path.lexists(target):
        raise _exists(target, "")
    try:
        _write_via_temp(target, data, overwrite)
    except FileExistsError:
        raise
    except OSError as err:  # name the target, never the temporary file
        raise type(err)(err.errno, err.strerror or str(err), str(target)) from err
    return target


def _exists(target: Path, when: str) -> FileExistsError:
    # One argument, so str(err) is the sentence itself (no "[Errno 17]" prefix).
    return FileExistsError(
        f"{target} already exists{when}; choose another name, remove it, or pass overwrite=True"
    )


def _write_via_temp(target: Path, data: bytes | memoryview, overwrite: bool) -> None:
    folder = target.parent
    # A replaced regular file keeps its mode. Its data are written only after the temporary
    # file has that mode, and the temporary file starts private (0o600), so the contents of a
    # private file are never readable by others, not even while they are being written.
    kept_mode = _regular_mode(target) if overwrite else None
    fd, temp = _create_temp(folder, target, 0o666 if kept_mode is None else 0o600)
    try:
        try:
            if kept_mode is not None and hasattr(os, "fchmod"):
                os.fchmod(fd, kept_mode)
            _write_all(fd, data)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(temp, target)
        else:
            try:
                _publish_exclusive(temp, target, data)
            except FileExistsError:
                raise _exists(target, " (it appeared while writing)") from None
        _sync_folder(folder)
    finally:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass


def _regular_mode(target: Path) -> int | None:
    """The permission bits of the regular file at `target`, or None (nothing there, a
    symlink, a folder...)."""
    try:
        info = os.lstat(target)
    except OSError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None
