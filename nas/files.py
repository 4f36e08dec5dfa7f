"""Output folders of the command-line tools: whether they can be written, said before anything is written.

A study folder copied from elsewhere, a read-only mount or a folder owned by another user gives an
``OSError`` at the first file a tool writes, often after minutes of work and with part of the output
written. :func:`unwritable` finds that out first, and :func:`describe` turns an ``OSError`` met later
into a line that names the path; each tool adds its own fix (``--out DIR``) and exits with 2.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["describe", "unwritable"]


def describe(exc: OSError) -> str:
    """``"cannot write /a/b (Permission denied)"``: the path of a failed write, absolute, and the reason."""
    reason = exc.strerror or str(exc)
    return f"cannot write {os.path.abspath(exc.filename)} ({reason})" if exc.filename else f"cannot write ({reason})"


def unwritable(folder: str | os.PathLike) -> str | None:
    """Why no file can be written in ``folder``, or None when one can.

    The folder and its missing parents are created (they are about to be written into); then a
    temporary file is created and removed in it, which is the only check that also sees immutable
    folders, read-only mounts and the root user's exemptions as they are. The reason names the path
    that refused, absolute: ``"cannot create the folder /a/models (Permission denied)"`` or
    ``"cannot write in /a/models (Read-only file system)"``.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"cannot write in {os.path.abspath(folder)}: it is a file, not a folder"
    except OSError as exc:
        return f"cannot create the folder {os.path.abspath(exc.filename or folder)} ({exc.strerror or exc})"
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        return f"cannot write in {os.path.abspath(folder)} ({exc.strerror or exc})"
    return None
