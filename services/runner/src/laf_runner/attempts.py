"""The attempts' folders: a `local` process's files, and results the API has not accepted.

Layout: ``<parent>/laf-attempts/<task id>-<attempt>/``, where ``<parent>`` is
`LAF_RUNNER_WORKDIR`, or by default ``$XDG_STATE_HOME/laf/runner-<api>`` (else
``~/.local/state/…``; a runner whose home is not writable falls back to
``<system temp>/laf-runner-<uid>/…``), one per API URL so that runners of two
LAF installations on one host never take each other's work.

Trust: ``laf-attempts`` and every folder in it must be real directories (not
symlinks) owned by the runner's user with mode 0700; files are opened without
following symlinks and must be owned by that user. A runner refuses to start on
a planted ``laf-attempts`` (`UnsafeFolder`), and never reads, runs or deletes a
planted attempt folder (it logs it and leaves it alone).

Ownership: the runner that works on an attempt holds an exclusive `flock` on its
folder's ``lock`` file. The lock dies with the process, so after a crash the
next runner on the host finds the attempts nobody holds (`orphans`): a result
to deliver (``report.json``), or a `local` process to follow. A folder is
removed only when its attempt is over for LAF: the API accepted its result (or
refused it for good), or the attempt was stopped.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
REPORT = "report.json"


class UnsafeFolder(Exception):
    """A folder the runner would trust is not private to it (planted, or wrong mode)."""


def default_parent(api_url: str = "") -> Path:
    """Where a runner keeps its attempts when LAF_RUNNER_WORKDIR is empty."""
    name = "runner"
    if api_url:
        name += "-" + hashlib.sha256(api_url.encode()).hexdigest()[:12]
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    preferred = Path(state) / "laf" / name
    try:
        preferred.mkdir(parents=True, exist_ok=True, mode=0o700)
        return preferred
    except OSError:  # a read-only home (a container): a private folder in the system temp
        private = Path(tempfile.gettempdir()) / f"laf-runner-{os.geteuid()}"
        _ensure_private(private)  # a predictable name, so never trusted unchecked
        return private / name


def private_problem(path: Path) -> str | None:
    """Why `path` is not a directory private to this user, or None."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "it does not exist"
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a directory"
    if info.st_uid != os.geteuid():
        return f"it is owned by uid {info.st_uid}, not this runner's uid {os.geteuid()}"
    if info.st_mode & 0o077:
        return f"its mode is {stat.S_IMODE(info.st_mode):04o}, not 0700"
    return None


def _ensure_private(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    problem = private_problem(path)
    if problem:
        raise UnsafeFolder(f"refusing the attempts folder {path}: {problem}")


@dataclass
class Attempt:
    """One attempt's folder, locked by this runner while it holds it."""

    key: str
    folder: Path
    _lock: int = field(repr=False)

    def write(self, name: str, data: bytes) -> None:
        """Write a file atomically and durably (a crash leaves the old one or the new one)."""
        tmp = self.folder / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.folder / name)
        directory = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def read(self, name: str) -> bytes | None:
        """A file of ours in the folder; None if missing or not ours (a symlink, planted)."""
        try:
            fd = os.open(self.folder / name, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ELOOP):
                raise
            return None
        try:
            if os.fstat(fd).st_uid != os.geteuid():
                log.warning("ignoring %s/%s: not owned by this runner's user", self.folder, name)
                return None
            with os.fdopen(os.dup(fd), "rb") as stream:
                return stream.read()
        finally:
            os.close(fd)

    def has(self, name: str) -> bool:
        return (self.folder / name).exists()

    def release(self) -> None:
        """Let go of the folder and keep it (for the next runner on this host)."""
        with contextlib.suppress(OSError):
            os.close(self._lock)

    def remove(self) -> None:
        """The attempt is over for LAF: delete its folder, then let go of it."""
        shutil.rmtree(self.folder, ignore_errors=True)
        self.release()


class AttemptStore:
    """The attempts of one runner host (see the module's docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._checked = False
        self._held: dict[str, Attempt] = {}

    @classmethod
    def under(cls, parent: str | Path) -> AttemptStore:
        return cls(Path(parent or default_parent()) / "laf-attempts")

    def check(self) -> None:
        """Create the root (0700) or check it is ours and private; UnsafeFolder if not."""
        if not self._checked:
            _ensure_private(self.root)
            self._checked = True

    def held(self, key: str) -> Attempt | None:
        return self._held.get(key)

    def create(self, key: str) -> Attempt:
        """A new folder for attempt `key`, held; FileExistsError if there is one already."""
        self.check()
        folder = self.root / key
        folder.mkdir(mode=0o700)
        attempt = self._lock(key, folder)
        assert attempt is not None, "a folder just made is locked by nobody else"
        return attempt

    def hold(self, key: str) -> Attempt:
        """The held folder of `key`, created if it has none."""
        return self._held.get(key) or self.create(key)

    def _lock(self, key: str, folder: Path) -> Attempt | None:
        try:
            fd = os.open(folder / "lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            log.warning("cannot open the lock of %s: %s", folder, exc)
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        attempt = Attempt(key, folder, fd)
        self._held[key] = attempt
        return attempt

    def orphans(self) -> list[Attempt]:
        """Folders no live runner holds (their runner died), now held by this one.
        Planted or foreign folders are logged and left alone."""
        self.check()
        found = []
        for folder in sorted(self.root.iterdir()):
            if folder.name in self._held or folder.name.startswith("."):
                continue
            problem = private_problem(folder)
            if problem:
                log.warning("not trusting attempt folder %s: %s", folder, problem)
                continue
            attempt = self._lock(folder.name, folder)
            if attempt is not None:
                found.append(attempt)
        return found

    def tidy(self) -> None:
        """The runner stops: remove the attempts folder if nothing is left in it (and its
        parent, when that is the default one, per API URL), so no empty ones pile up."""
        for attempt in list(self._held.values()):
            attempt.release()
        self._held.clear()
        with contextlib.suppress(OSError):
            self.root.rmdir()
            if self.root.parent.parent.name == "laf" and self.root.parent.name.startswith("runner"):
                self.root.parent.rmdir()

    def release(self, key: str) -> None:
        attempt = self._held.pop(key, None)
        if attempt is not None:
            attempt.release()

    def remove(self, key: str) -> None:
        attempt = self._held.pop(key, None)
        if attempt is not None:
            attempt.remove()
