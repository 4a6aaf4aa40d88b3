"""Writing files and folders so that a user's data is never lost (docs/outputs.md, "Safety").

One implementation for every file klynge-opt writes:

* a file is written under a hidden temporary name beside its target and renamed into place, so
  a reader never sees half a file (:func:`atomic_file`, :func:`write_text`, :func:`write_csv`);
* a folder is built complete in a hidden staging folder and swapped in with two renames under a
  lock on the parent folder (:func:`staged_dir`); a failure or an interrupt at any point leaves
  the earlier folder as it was, and a crash between the two renames is repaired on the next
  write (:func:`recover`);
* a folder is only ever replaced when klynge-opt wrote it, as the same kind of output
  (:func:`guard_target`): its marker file :data:`MARKER` says so. A folder that holds the data
  set or the scenario being used is never a target;
* everything created gets the permissions of the user's umask, as any other program's files
  would (``tempfile`` creates ``0700``/``0600``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .cells import protect_frame
from .problems import OutputError

#: Present in every folder klynge-opt writes: what it holds and for which inputs.
MARKER = ".klynge-opt.json"
#: How long a writer waits for another process writing into the same folder.
LOCK_WAIT_SECONDS = 10.0


# --------------------------------------------------------------------------- permissions


def current_umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _publish(path: Path, mask: int) -> None:
    """Give what ``tempfile`` created the permissions an ordinary ``open``/``mkdir`` would."""
    if path.is_dir():
        path.chmod(0o777 & ~mask)
        for child in path.rglob("*"):
            child.chmod((0o777 if child.is_dir() else 0o666) & ~mask)
    else:
        path.chmod(0o666 & ~mask)


# --------------------------------------------------------------------------- files


def _friendly(exc: OSError, path: Path) -> OutputError:
    reason = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied",
              errno.EPERM: "permission denied", errno.EROFS: "the file system is read-only",
              errno.EDQUOT: "the disk quota is exceeded"}.get(exc.errno or 0,
                                                              exc.strerror or str(exc))
    return OutputError(f"cannot write {path}: {reason}; nothing was changed there", path,
                       refused=False)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise _friendly(exc, target) from None
    tmp = Path(name)
    try:
        yield tmp
        _publish(tmp, current_umask())
        os.replace(tmp, target)
    except OSError as exc:
        raise _friendly(exc, target) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


#: Set to 1 (or true, yes) to start every CSV klynge-opt writes with a UTF-8 byte-order mark,
#: so that Excel opens a double-clicked file with æ, ø and å intact. Off by default: scripts
#: reading the CSVs (pandas, csv, R) then see no stray character before the first header.
CSV_BOM_ENV = "KLYNGE_OPT_CSV_BOM"


def csv_encoding() -> str:
    """``utf-8-sig`` (with a byte-order mark) when :data:`CSV_BOM_ENV` asks for it, else
    ``utf-8``. Every reader of klynge-opt's CSVs accepts both."""
    wanted = os.environ.get(CSV_BOM_ENV, "").strip().lower()
    return "utf-8-sig" if wanted in ("1", "true", "yes") else "utf-8"


def csv_text(frame: pd.DataFrame, path: Path) -> None:
    """A table as CSV with every text cell protected against formula evaluation, and whole
    numbers in float columns (firm counts, DKK amounts) written without a trailing ``.0``."""
    protect_frame(_whole_numbers(frame)).to_csv(path, index=False, encoding=csv_encoding())


def _whole_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Float columns holding only whole numbers (and blanks) as nullable integers; a column
    with one fraction keeps every value as it is, so nothing is rounded."""
    out = frame
    for col in frame.columns:
        values = frame[col]
        if not pd.api.types.is_float_dtype(values):
            continue
        present = values.dropna()
        if present.empty or not np.isfinite(present).all() \
                or not (present == np.round(present)).all() or present.abs().max() >= 2**53:
            continue
        if out is frame:
            out = frame.copy()
        out[col] = values.astype("Int64")
    return out


def write_csv(path: str | os.PathLike[str], frame: pd.DataFrame) -> Path:
    with atomic_file(path) as tmp:
        csv_text(frame, tmp)
    return Path(path)


def clean_json(value: Any) -> Any:
    """``value`` with NaN and infinities (not valid JSON) replaced by None, recursively."""
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike[str], value: Any,
               default: Callable[[Any], Any] | None = None) -> Path:
    return write_text(path, json.dumps(value, indent=2, default=default, allow_nan=False))


# --------------------------------------------------------------------------- folders


def read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _resolved(paths: Iterable[str | os.PathLike[str] | None]) -> list[Path]:
    return [Path(p).resolve() for p in paths if p is not None]


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def guard_target(target: str | os.PathLike[str], kind: str, *,
                 protected: Iterable[str | os.PathLike[str] | None] = (),
                 same: Callable[[dict[str, Any]], str | None] | None = None,
                 legacy: Iterable[str] = (), force: bool = False) -> None:
    """Refuse a target folder that klynge-opt must not replace.

    ``kind`` is the output kind written there (``result``, ``comparison``, ``sweep``, ``data``).
    An existing target may be replaced only when its marker names the same kind (or, for
    folders from before markers, one of the ``legacy`` files is present) and ``same(marker)``
    returns no objection. ``force`` overrides the kind checks, never the protected paths: a
    folder holding the data set or the scenario in use is refused always.
    """
    path = Path(target)
    resolved = path.resolve()
    for p in _resolved(protected):
        if _within(p, resolved):
            raise OutputError(f"refusing to write to {path}: it holds {p}, which this run reads; "
                              "choose another output folder", path)
    home = Path.home().resolve()
    if resolved in (Path(resolved.anchor), home) or resolved == Path.cwd().resolve():
        raise OutputError(f"refusing to write to {path}: replacing it would delete everything "
                          "in it; give a new or an earlier output folder", path)
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir() or path.is_symlink():
        raise OutputError(f"refusing to write to {path}: it exists and is not a folder "
                          "klynge-opt wrote; choose another output folder", path)
    marker = read_marker(path)
    found = marker.get("kind") if marker else next(
        (kind for name in legacy if (path / name).exists()), None)
    if found is None and not any(path.iterdir()):
        return  # an empty folder holds nothing to lose
    if force:
        return
    if found is None:
        raise OutputError(f"refusing to replace {path}: it is not a klynge-opt {kind} folder "
                          f"(no {MARKER}); choose another output folder or remove it yourself",
                          path)
    if found != kind:
        raise OutputError(f"refusing to replace {path}: it holds a klynge-opt {found}, not a "
                          f"{kind}; choose another output folder, or --force", path)
    objection = same(marker or {}) if same is not None else None
    if objection:
        raise OutputError(f"refusing to replace {path}: {objection}; choose another output "
                          "folder, or --force", path)


def guard_file(target: str | os.PathLike[str], *,
               protected: Iterable[str | os.PathLike[str] | None] = ()) -> None:
    """Refuse an output file that is, or sits inside, something the run reads, or that
    exists and is not a file. Replacing an existing file the user named is what was asked."""
    path = Path(target)
    resolved = path.resolve()
    for p in _resolved(protected):
        if _within(resolved, p):
            raise OutputError(f"refusing to write {path}: it is (inside) {p}, which this run "
                              "reads; choose another output path", path)
    if path.exists() and not path.is_file():
        raise OutputError(f"refusing to write {path}: it exists and is not a file", path)


def _old(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def recover(target: str | os.PathLike[str]) -> bool:
    """Repair a swap interrupted between its two renames; True if an old folder came back."""
    path = Path(target)
    old = _old(path)
    if not old.exists():
        return False
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)  # the swap had finished: the old copy is stale
        return False
    old.rename(path)
    return True


@contextlib.contextmanager
def locked(folder: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Exclusive lock on ``folder`` (``flock`` on the folder itself: nothing is left behind)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OutputError(f"another klynge-opt process is writing in {folder}; "
                                      "try again when it has finished", folder) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def staged_dir(target: str | os.PathLike[str], marker: dict[str, Any],
               check: Callable[[], None] | None = None) -> Iterator[Path]:
    """Yield an empty staging folder; on success it replaces ``target`` atomically.

    ``check`` (typically :func:`guard_target`) runs again under the lock, right before the
    swap, so another process cannot slip a different folder in between. On any exception,
    including ``KeyboardInterrupt``, the staging folder is removed and ``target`` is untouched.
    """
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise _friendly(exc, path) from None
    try:
        yield tmp
        (tmp / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True),
                                  encoding="utf-8")
        _publish(tmp, current_umask())
        with locked(path.parent):
            recover(path)
            if check is not None:
                check()
            _swap(tmp, path)
    except OSError as exc:
        raise _friendly(exc, path) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _swap(new: Path, target: Path) -> None:
    if not target.exists():
        new.rename(target)
        return
    old = _old(target)
    target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        old.rename(target)  # put the earlier folder back before reporting the failure
        raise
    shutil.rmtree(old, ignore_errors=True)
