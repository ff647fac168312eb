"""Whether an archive lies on a network file system, where SQLite cannot keep it safe.

SQLite's write-ahead log needs every process that opens the database on one machine,
with the log's index in shared memory; it "does not work over a network filesystem"
(SQLite's wal.html), and the locks that keep two writers apart are unreliable on NFS and
SMB.  Such an archive can be corrupted without any error at the time.  A writer refuses
one unless told, with ``ARCHIVER_ALLOW_NETWORK_FS=1``, that only one machine ever opens it.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

__all__ = ["ALLOW_NETWORK_FS", "NETWORK_FILESYSTEMS", "network_filesystem", "network_filesystem_allowed"]

ALLOW_NETWORK_FS = "ARCHIVER_ALLOW_NETWORK_FS"

# File systems whose files other machines reach over the network (the type a mount
# table gives; FUSE ones as "fuse.NAME").  Not 9p nor virtiofs: sandboxes and virtual
# machines share their host's local disk that way, and SQLite works there.
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "afs",
        "ncpfs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "beegfs",
        "davfs",
        "afpfs",  # macOS: Apple file sharing
        "webdav",  # macOS
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.cephfs",
        "fuse.s3fs",
        "fuse.rclone",
        "fuse.gcsfuse",
        "fuse.davfs2",
    }
)


def network_filesystem(folder: Path) -> str | None:
    """Return the type of the network file system ``folder`` lies on, or None on a local one.

    The mount whose mount point is the longest leading part of the folder's real path
    decides.  Where the mounts cannot be listed, the folder counts as local.
    """
    where = os.path.realpath(folder)
    try:
        mounts = psutil.disk_partitions(all=True)
    except (OSError, RuntimeError):
        return None
    best, kind = "", ""
    for mount in mounts:
        point = mount.mountpoint
        inside = where == point or where.startswith(point.rstrip(os.sep) + os.sep)
        if inside and len(point) >= len(best):
            best, kind = point, mount.fstype.lower()
    return kind if kind in NETWORK_FILESYSTEMS else None


def network_filesystem_allowed() -> bool:
    """Whether the user said that only one machine opens an archive on a network file system."""
    return os.environ.get(ALLOW_NETWORK_FS, "").strip().lower() in ("1", "yes", "true")
