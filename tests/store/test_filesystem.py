"""Refusing SQLite on network/FUSE filesystems: mountinfo parsing, mount lookup, and the refused start."""

import logging
import os

import pytest

from ftdemo.errors import UnsafeFilesystemError
from ftdemo.services import Services
from ftdemo.settings import Settings
from ftdemo.store import filesystem
from ftdemo.store.filesystem import Mount, is_unsafe_fstype, mount_of, parse_mountinfo

SAMPLE = r"""22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
40 27 0:45 / /home rw,relatime shared:20 - ext4 /dev/vdb1 rw
41 40 0:46 / /home/shared rw,relatime shared:21 master:3 - nfs4 fileserver:/export/home rw,vers=4.2
42 27 0:47 / /mnt/my\040drive rw,nosuid - fuse.sshfs me@host:/srv rw,user_id=0
43 27 0:48 / /data rw,relatime - ext4 /dev/vdc rw
44 27 0:49 / /mnt/win rw - cifs //nas/share rw
45 27 0:50 / /mnt/ntfs rw - fuseblk /dev/sdb1 rw
46 27 0:51 / /mnt/wsl rw - 9p drvfs rw
47 27 0:52 / /data rw,relatime - fuse.hf-mount hf://buckets/me/b rw
garbage line
"""


def test_parse_mountinfo_reads_point_type_and_source():
    mounts = parse_mountinfo(SAMPLE)
    assert len(mounts) == 10  # the malformed line is skipped
    assert mounts[1] == Mount("/", "ext4", "/dev/vda")
    assert mounts[3] == Mount("/home/shared", "nfs4", "fileserver:/export/home")  # optional fields skipped
    assert mounts[4] == Mount("/mnt/my drive", "fuse.sshfs", "me@host:/srv")  # \040 is a space


@pytest.mark.parametrize("path, fstype", [
    ("/home/shared/ftdemo", "nfs4"),
    ("/home/shared", "nfs4"),
    ("/home/sharedx/ftdemo", "ext4"),  # a prefix by components, not by characters
    ("/home/me", "ext4"),
    ("/srv/app/data", "ext4"),
    ("/mnt/my drive/x", "fuse.sshfs"),
    ("/data/ftdemo", "fuse.hf-mount"),  # two mounts on one point: the later one is on top
])
def test_mount_of_takes_the_longest_mount_point(path, fstype):
    assert mount_of(path, parse_mountinfo(SAMPLE)).fstype == fstype


@pytest.mark.parametrize("fstype, unsafe", [
    ("nfs", True), ("nfs4", True), ("cifs", True), ("smb3", True), ("smbfs", True), ("9p", True),
    ("afs", True), ("ceph", True), ("glusterfs", True), ("davfs", True), ("fuse", True), ("fuse.sshfs", True),
    ("fuse.s3fs", True), ("ext4", False), ("xfs", False), ("btrfs", False), ("overlay", False), ("tmpfs", False),
    ("zfs", False), ("fuseblk", False),
])
def test_unsafe_filesystem_types(fstype, unsafe):
    assert is_unsafe_fstype(fstype) is unsafe


@pytest.fixture
def nfs_dir(tmp_path, monkeypatch):
    """A directory that /proc/self/mountinfo (a sample file here) says is an NFS mount."""
    share = tmp_path / "share"
    share.mkdir()
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(f"27 1 254:0 / / rw - ext4 /dev/vda rw\n"
                         f"41 27 0:46 / {share} rw,relatime - nfs4 fileserver:/export rw\n")
    monkeypatch.setattr(filesystem, "MOUNTINFO_PATH", mountinfo)
    return share


def test_start_refuses_a_database_on_nfs(nfs_dir):
    with pytest.raises(UnsafeFilesystemError, match="nfs4") as err:
        Services(Settings(data_dir=nfs_dir / "ftdemo", seed_demo=False))
    message = str(err.value)
    assert "FTDEMO_ALLOW_UNSAFE_FS=1" in message and "local disk" in message
    assert not (nfs_dir / "ftdemo" / "ftdemo.db").exists()  # refused before anything was written


def test_symlinks_are_resolved_before_the_lookup(nfs_dir, tmp_path):
    link = tmp_path / "local-looking"
    os.symlink(nfs_dir, link)
    with pytest.raises(UnsafeFilesystemError):
        Services(Settings(data_dir=link, seed_demo=False))


def test_override_allows_it_with_a_warning(nfs_dir, caplog):
    settings = Settings.from_env({"FTDEMO_DATA_DIR": str(nfs_dir), "FTDEMO_ALLOW_UNSAFE_FS": "1",
                                  "FTDEMO_SEED_DEMO": "0"})
    with caplog.at_level(logging.WARNING, logger="ftdemo.store.filesystem"):
        sv = Services(settings)
    sv.close()
    assert "nfs4" in caplog.text and "FTDEMO_ALLOW_UNSAFE_FS" in caplog.text


def test_local_disk_and_missing_mountinfo_pass(tmp_path, monkeypatch):
    Services(Settings(data_dir=tmp_path / "local", seed_demo=False)).close()  # the real mountinfo
    monkeypatch.setattr(filesystem, "MOUNTINFO_PATH", tmp_path / "no-such-file")  # e.g. macOS
    Services(Settings(data_dir=tmp_path / "local", seed_demo=False)).close()
