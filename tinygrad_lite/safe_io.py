"""Writing files so that nothing a user saved is ever lost or silently overwritten.

Every writer in the project (Module.save, viz.save, the CLI, the stepper pages, tl.save) goes
through `write_file`. It writes to a temporary file that it creates exclusively (an
unpredictable name, `O_EXCL`, so a planted file or symlink there is never followed) in the
target's own folder, then publishes it in one step:

- `overwrite=False`: `os.link(temp, target)`, which fails if anything exists at `target`, a
  dangling symlink included, so a file created between a check and the write is never replaced;
- `overwrite=True`: `os.replace(temp, target)`, which replaces a symlink itself, never the file it
  points to.

A reader never sees a half-written file under the target's name.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

__all__ = ["write_file"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_exclusive(temp: str, target: Path) -> None:
    """Give `temp` the name `target` only if nothing has that name; then remove `temp`."""
    try:
        os.link(temp, target, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as err:
        # Filesystems without hard links: create the target exclusively and copy into it.
        if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
            raise
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(target, flags, 0o666)
        with os.fdopen(fd, "wb") as out, open(temp, "rb") as src:
            out.write(src.read())
            out.flush()
            os.fsync(out.fileno())
    os.unlink(temp)


def write_file(path, data: bytes | str, *, overwrite: bool = False) -> Path:
    """Write `data` (bytes, or text written as UTF-8) to `path` and return the path.

    Raises `FileExistsError` when something already exists at `path` (a file, a folder or a
    symlink, even a dangling one) unless `overwrite=True`. The file gets the permissions of
    an ordinary new file (0o666 less the umask).

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
    target = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(
            f"{target} already exists; choose another name, remove it, or pass overwrite=True"
        )
    folder = target.parent if str(target.parent) else Path(".")
    fd, temp = tempfile.mkstemp(prefix=f".{target.name[:40]}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o666 & ~_umask())
        if overwrite:
            os.replace(temp, target)
        else:
            try:
                _publish_exclusive(temp, target)
            except FileExistsError:
                raise FileExistsError(
                    f"{target} already exists (created while writing); choose another name, "
                    "remove it, or pass overwrite=True"
                ) from None
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)
    return target
