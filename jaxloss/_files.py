"""Output folders and atomic file writes for the command line's results."""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile


def prepare_output_folder(folder: pathlib.Path) -> None:
    """Creates ``folder``; refuses a non-empty one and one that cannot be written."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"output folder {str(folder)!r} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise ValueError(f"output folder {str(folder)!r} is not empty; choose another --out")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(f"output folder {str(folder)!r} cannot be written: {error}") from None


def write_atomic(path: pathlib.Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` whole or not at all, with the usual permissions."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        # mkstemp makes the file private (0600); a written result follows the umask.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise


def user_cache_folder() -> pathlib.Path:
    """jaxloss's folder in the user's cache: ``$XDG_CACHE_HOME/jaxloss`` or the platform's.

    Example:
      >>> user_cache_folder().name
      'jaxloss'
    """
    if sys.platform == "darwin":
        base = pathlib.Path.home() / "Library" / "Caches"
    elif sys.platform == "win32":
        base = pathlib.Path(os.environ.get("LOCALAPPDATA") or pathlib.Path.home() / "AppData")
    else:
        base = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    return base / "jaxloss"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
