"""A run directory, owned by one run at a time.

Two runs writing into one directory would mix their files (metrics of one, config of the other,
history rows of both). A run holds an exclusive `flock` on `<dir>/.pinn.lock` while it writes; the
kernel drops the lock when the process ends, however it ends, so a crashed run never leaves the
directory blocked. The lock file stays behind; it holds the owner's pid, for the error message.
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from pinn.errors import ConfigError

LOCK_NAME = ".pinn.lock"

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the directory is used unguarded
    fcntl = None  # type: ignore[assignment]


class RunDirectory:
    """`with RunDirectory(path, key):` creates the directory, checks that files can be written into
    it and locks it; `key` names the setting that chose it, for the one-line errors."""

    def __init__(self, path: Path, key: str = "hydra.run.dir"):
        self.path = Path(path)
        self.key = key
        self._handle = None

    def __enter__(self) -> "RunDirectory":
        where = f"{self.key}={self.path}"
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise ConfigError(f"{where} is a file, not a directory; choose a directory") from None
        except OSError as exc:
            raise ConfigError(f"{where} cannot be created ({exc.strerror}); choose a writable directory") from None
        try:
            handle = open(self.path / LOCK_NAME, "a+")
        except OSError as exc:
            raise ConfigError(f"{where} is not writable ({exc.strerror}); choose a writable directory") from None
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                handle.seek(0)
                owner = handle.read().strip() or "another process"
                handle.close()
                if exc.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                    raise ConfigError(f"{where} is in use by a running pinn run ({owner}); wait for it to end "
                                      "or choose another directory") from None
                raise ConfigError(f"{where} cannot be locked ({exc.strerror})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> bool:
        if self._handle is not None:
            if fcntl is not None:
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
        return False
