"""Solved references kept on disk, so that a second run, or another sweep job, with the same physical
parameters loads its reference instead of solving it again.

An entry's key hashes the parameters its reference depends on (the problem's name among them), and the version
of the code that computes it: the bytes of the given source files and the numpy, scipy and Cantera
versions. Changing any of them makes a new key, so a stale entry is never read.

An entry is a pickle written to a temporary file in the cache directory and renamed into place
(`os.replace` is atomic on one file system): concurrent writers of one key each leave a whole
entry, the last rename wins, and a reader sees the old entry or the new one, never half of one. An
entry that cannot be read (a disk that filled up, a pickle of another Python) is a miss and is
written again. A key is solved by one process at a time (a lock file `.<key>.lock` beside its
entry): sweep jobs started together with the same physical parameters solve their reference once,
the others wait for it and load it.

The default directory is `$PINN_CACHE_DIR`, else `$XDG_CACHE_HOME/pinn/references`, else
`~/.cache/pinn/references`."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import inspect
import json
import logging
import os
import pickle
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

try:
    import fcntl
except ImportError:  # no POSIX file locks (Windows): concurrent jobs each solve, as without the lock
    fcntl = None

log = logging.getLogger("pinn")

FORMAT = 1  # bump when the layout of an entry changes

# seconds of solving that per-process memos replayed instead of repeating (see `solved_once`)
_replayed = [0.0]


def solved_once(solve: Callable[..., Any]) -> Callable[..., Any]:
    """Memoize a reference solve per process on its arguments with the defaults filled in (so that
    f(0.8) and f(0.8, 300.0) are one solve). A hit adds the seconds the first call took to what
    `ReferenceCache.obtain` records as the solve time: an entry stored by a process that had already
    solved the flame for another purpose still says how long solving it takes."""
    signature = inspect.signature(solve)

    @functools.lru_cache(maxsize=16)
    def timed(*args, **kwargs):
        start = time.perf_counter()
        return solve(*args, **kwargs), time.perf_counter() - start

    @functools.wraps(solve)
    def once(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        hits = timed.cache_info().hits
        value, seconds = timed(*bound.args, **bound.kwargs)
        if timed.cache_info().hits > hits:
            _replayed[0] += seconds
        return value

    return once


def default_directory() -> Path:
    if os.environ.get("PINN_CACHE_DIR"):
        return Path(os.environ["PINN_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "pinn" / "references"


def _library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in ("numpy", "scipy", "cantera"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def code_version(sources: Iterable[Path]) -> str:
    """A hash of every file under the given files and folders (Python sources and data, not
    bytecode caches), by relative name and content, and of the numerical libraries' versions."""
    digest = hashlib.sha256(json.dumps(_library_versions(), sort_keys=True).encode())
    for source in sorted(Path(s) for s in sources):
        files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(path.name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def entry_key(parameters: Mapping[str, Any], version: str) -> str:
    """The key of one reference: its parameters (canonical JSON; `name`, the problem's name, also
    starts the file name) and the code version."""
    text = json.dumps({"format": FORMAT, "parameters": parameters, "version": version}, sort_keys=True, default=repr)
    return f"{parameters.get('name', 'reference')}-{hashlib.sha256(text.encode()).hexdigest()[:32]}"


@dataclass(frozen=True)
class Lookup:
    """Where a reference came from: `source` is "cache" (loaded), "solved" (and stored), or
    "solved, not cached" with the reason in `note`; `seconds` is what this run spent on it and
    `solve_seconds` what solving it took (in this run or in the one that stored it)."""

    source: str
    seconds: float
    solve_seconds: float
    key: str | None = None
    path: str | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "seconds": self.seconds, "solve_seconds": self.solve_seconds,
                "key": self.key, "path": self.path, "note": self.note}


class ReferenceCache:
    """Entries under one directory; `obtain(key, solve)` loads an entry or solves and stores it."""

    def __init__(self, directory: Path | str | None = None):
        self.directory = Path(directory).expanduser() if directory is not None else default_directory()

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.pkl"

    def load(self, key: str) -> tuple[Any, float] | None:
        """(value, the seconds its solve took), or None when there is no readable entry."""
        try:
            with open(self.path(key), "rb") as file:
                entry = pickle.load(file)
            return entry["value"], float(entry["solve_seconds"])
        except FileNotFoundError:
            return None
        except Exception as exc:  # any unreadable entry is a miss; it is written again
            log.warning("reference cache entry %s is unreadable (%s); solving again", self.path(key), exc)
            return None

    def store(self, key: str, value: Any, solve_seconds: float) -> None:
        """Write the entry atomically (temporary file, then rename); raises OSError or a pickling
        error, leaving no partial entry behind."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
        try:
            with os.fdopen(handle, "wb") as file:
                pickle.dump({"value": value, "solve_seconds": solve_seconds}, file, protocol=pickle.HIGHEST_PROTOCOL)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def obtain(self, key: str, solve: Callable[[], Any]) -> tuple[Any, Lookup]:
        """The entry of `key`, or `solve()` stored under it. One process solves a key at a time:
        another that misses the same key meanwhile waits for that solve and loads its entry."""
        start = time.perf_counter()
        found = self.load(key)
        if found is None:
            with self._solving(key):
                found = self.load(key)
                if found is None:
                    return self._solve_and_store(key, solve, start)
        return found[0], Lookup("cache", time.perf_counter() - start, found[1], key, str(self.path(key)))

    @contextlib.contextmanager
    def _solving(self, key: str):
        """An exclusive lock on the key (a lock file beside its entry; the system releases it when
        its process ends, however it ends); without a writable directory or file locks, none."""
        handle = None
        if fcntl is not None:
            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                handle = open(self.directory / f".{key}.lock", "a")
            except OSError:
                pass
        if handle is None:
            yield
            return
        with handle:
            if not _locked(handle, fcntl.LOCK_EX | fcntl.LOCK_NB):
                log.info("reference: another process is solving the same one; waiting for its entry %s",
                         self.path(key))
                _locked(handle, fcntl.LOCK_EX)
            yield

    def _solve_and_store(self, key: str, solve: Callable[[], Any], start: float) -> tuple[Any, Lookup]:
        replayed = _replayed[0]
        value = solve()
        seconds = time.perf_counter() - start + _replayed[0] - replayed
        try:
            self.store(key, value, seconds)
        except Exception as exc:  # a read-only or full disk, or a value that does not pickle: run on
            log.warning("the reference was not cached (%s: %s)", type(exc).__name__, str(exc).splitlines()[0])
            return value, Lookup("solved, not cached", seconds, seconds, key, None, f"{type(exc).__name__}: {exc}")
        return value, Lookup("solved", seconds, seconds, key, str(self.path(key)))


def _locked(handle, operation: int) -> bool:
    """flock; False if another process holds the lock (non-blocking), True also where the file
    system has no locks (then nothing is held)."""
    try:
        fcntl.flock(handle, operation)
    except BlockingIOError:
        return False
    except OSError:
        pass
    return True


def solve_uncached(solve: Callable[[], Any], note: str) -> tuple[Any, Lookup]:
    start = time.perf_counter()
    value = solve()
    seconds = time.perf_counter() - start
    return value, Lookup("solved, not cached", seconds, seconds, note=note)
