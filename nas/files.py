"""Output folders of the command-line tools: whether they can be written, said before anything is written.

A study folder copied from elsewhere, a read-only mount or a folder owned by another user gives an
``OSError`` at the first file a tool writes, often after minutes of work and with part of the output
written. :func:`unwritable` finds that out first, and :func:`describe` turns an ``OSError`` met later
into a line that names the path; each tool adds its own fix (``--out DIR``) and exits with 2.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["describe", "save_atomic", "unwritable"]


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


def save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (JSON for a ``.json`` path, else ``torch.save``) to a temporary file beside ``path``,
    then rename it into place: a process killed while writing leaves the previous file whole, never a
    truncated one. Raises ``OSError`` (the temporary file removed) when it cannot be written."""
    import torch

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            if path.suffix == ".json":
                f.write(json.dumps(obj, indent=2).encode() + b"\n")
            else:
                torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
