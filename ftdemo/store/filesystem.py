"""Is the database on a filesystem where SQLite's locking can be trusted?

SQLite relies on POSIX advisory locks and (in WAL mode) a shared-memory index mmapped from the
`-shm` file. Network and most FUSE filesystems implement these badly or not at all, which can
corrupt the database silently (https://www.sqlite.org/howtocorrupt.html, section 2.1: "Filesystems
with broken or missing lock implementations"). So start-up looks up the mount that holds the database in /proc/self/mountinfo and refuses
those filesystems unless the user overrides it. Elsewhere (no /proc, e.g. macOS) nothing is checked.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ftdemo import settings as settings_module
from ftdemo.errors import UnsafeFilesystemError
from ftdemo.settings import Settings

log = logging.getLogger(__name__)

MOUNTINFO_PATH = Path("/proc/self/mountinfo")  # tests point this at a sample file
OVERRIDE_ENV = "FTDEMO_ALLOW_UNSAFE_FS"
# Network filesystems (locks go over the wire, if at all; the WAL index cannot be shared between hosts)
# and guest/host shared folders. `fuse` and every `fuse.<name>` (sshfs, s3fs, rclone, gcsfuse, ...)
# are matched separately; `fuseblk` (ntfs-3g, exfat on a local disk) is not.
UNSAFE_FS_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "smb2", "9p", "afs", "ceph", "glusterfs", "davfs", "lustre",
    "gpfs", "beegfs", "orangefs", "pvfs2", "ncpfs", "coda", "vboxsf", "vmhgfs", "prl_fs",
})


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fstype: str
    source: str


def _unescape(field: str) -> str:
    # mountinfo writes space, tab, newline and backslash in paths as octal escapes (\040 ...)
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """Mounts in /proc/self/mountinfo order (a later mount on the same point hides an earlier one).

    Line format: ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
    """
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        if sep < 6 or len(fields) < sep + 3:
            continue  # malformed line: skip rather than fail the start
        mounts.append(Mount(_unescape(fields[4]), fields[sep + 1], _unescape(fields[sep + 2])))
    return mounts


def mount_of(path: str | Path, mounts: list[Mount]) -> Mount | None:
    """The mount holding `path` (an absolute, resolved path): the longest mount point that contains it."""
    target = PurePosixPath(path)
    best: Mount | None = None
    for m in mounts:
        point = PurePosixPath(m.mount_point)
        if (target == point or point in target.parents) and (
                best is None or len(point.parts) >= len(PurePosixPath(best.mount_point).parts)):
            best = m  # >=: of two mounts on one point the later (top) one wins
    return best


def is_unsafe_fstype(fstype: str) -> bool:
    fstype = fstype.lower()
    return fstype in UNSAFE_FS_TYPES or fstype == "fuse" or fstype.startswith("fuse.")


def database_mount(db_file: str | Path) -> Mount | None:
    """The mount holding `db_file` (None without /proc/self/mountinfo)."""
    try:
        text = MOUNTINFO_PATH.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # resolve symlinks (a ./data link to an NFS share is on NFS); the file may not exist yet
    directory = Path(db_file).expanduser().resolve().parent
    return mount_of(directory, parse_mountinfo(text))


def unsafe_mount(db_file: str | Path) -> Mount | None:
    """The network/FUSE mount holding `db_file`, or None when it is local (or it cannot be told)."""
    mount = database_mount(db_file)
    return mount if mount is not None and is_unsafe_fstype(mount.fstype) else None


def check_sqlite_location(db_file: str | Path, *, allow_unsafe: bool = False) -> None:
    """Raise UnsafeFilesystemError if the SQLite file lies on a network/FUSE filesystem.

    With `allow_unsafe` (FTDEMO_ALLOW_UNSAFE_FS=1) only a warning is logged.
    """
    mount = unsafe_mount(db_file)
    if mount is None:
        return
    where = f"{db_file} is on a {mount.fstype} filesystem ({mount.source} mounted at {mount.mount_point})"
    if allow_unsafe:
        log.warning("%s; SQLite locking may be unreliable there (allowed by %s=1)", where, OVERRIDE_ENV)
        return
    raise UnsafeFilesystemError(
        f"the database {where}, where SQLite's file locking is unreliable and the database can be corrupted. "
        f"Put the data on a local disk (FTDEMO_DATA_DIR=/a/local/dir or FTDEMO_DB_URL=sqlite:////a/local/file.db), "
        f"use a server database (FTDEMO_DB_URL=postgresql://...), or, if exactly one app process on one machine "
        f"uses this file and you accept the risk, set {OVERRIDE_ENV}=1")


def check_database_url(url: str, *, allow_unsafe: bool = False) -> None:
    """`check_sqlite_location` for a SQLAlchemy URL (nothing to check for in-memory or server databases)."""
    from ftdemo.store.session import sqlite_path

    path = sqlite_path(url)
    if path is not None:
        check_sqlite_location(path, allow_unsafe=allow_unsafe)


def ephemeral_storage_warning(settings: Settings, env: Mapping[str, str] | None = None) -> str | None:
    """On a Hugging Face Space that keeps the database or the models outside /data, say that a restart loses them."""
    from ftdemo.store.session import sqlite_path

    env = os.environ if env is None else env
    if not env.get("SPACE_ID"):
        return None
    persistent = settings_module.SPACES_PERSISTENT_DIR
    places = {"the database": sqlite_path(settings.db_url), "the models": settings.models_dir}
    lost = [f"{what} ({path})" for what, path in places.items()
            if path is not None and persistent not in Path(path).resolve().parents]
    if not lost:
        return None
    return (f"this Space keeps {' and '.join(lost)} on its ephemeral disk: they are lost when the Space restarts "
            f"or is rebuilt. Attach persistent storage at {persistent} (the app then uses "
            f"{persistent / 'ftdemo'}), or set FTDEMO_DATA_DIR to a directory under it")
