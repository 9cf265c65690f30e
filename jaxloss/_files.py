"""Output folders and atomic file writes for the command line's results."""

from __future__ import annotations

import os
import pathlib
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
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise
