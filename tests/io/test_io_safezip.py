"""Zip uploads cannot write outside their temporary folder or unpack without bound."""

import zipfile

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.io import read_rows
from ftdemo.io.safezip import safe_extract


@pytest.mark.parametrize("member", ["../evil.csv", "a/../../evil.csv", "/etc/evil.csv", "..\\evil.csv",
                                    "C:/evil.csv"])
def test_escaping_members_are_rejected_before_writing(make_zip, tmp_path, member):
    path = make_zip("a.zip", {"ok.csv": b"text\nx\n", member: b"text\npwned\n"})
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InvalidInputError, match="rejected"):
        safe_extract(path, dest, max_bytes=10_000)
    assert list(dest.iterdir()) == []  # every member is checked before anything is written
    assert not (tmp_path / "evil.csv").exists()


def test_symlink_member_is_rejected(make_zip, tmp_path):
    path = make_zip("a.zip", {"ok.csv": b"text\nx\n"}, symlinks={"link.csv": "/etc/passwd"})
    with pytest.raises(InvalidInputError, match="symbolic link"):
        read_rows(path)


def test_declared_size_over_the_limit_is_rejected(make_zip):
    path = make_zip("a.zip", {"a.csv": b"text\n" + b"x" * 5000 + b"\n"})
    with pytest.raises(InvalidInputError, match="unpack to 5,006 bytes; the limit is 1,000"):
        read_rows(path, max_bytes=1000)


def test_compressed_size_is_small_but_uncompressed_is_capped(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.csv", b"text\n" + b"a" * 2_000_000)
    assert path.stat().st_size < 10_000
    with pytest.raises(InvalidInputError, match="limit"):
        read_rows(path, max_bytes=100_000)


def test_bytes_are_counted_while_extracting(make_zip, tmp_path, monkeypatch):
    # a zip's declared sizes are claims; the running count stops the extraction even if they lie
    path = make_zip("a.zip", {"a.csv": b"x" * 5000})
    monkeypatch.setattr("ftdemo.io.safezip._declared_size", lambda members: 0)
    monkeypatch.setattr("ftdemo.io.safezip._CHUNK", 1000)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(InvalidInputError, match="more than 4,000 bytes"):
        safe_extract(path, dest, max_bytes=4000)


def test_too_many_members(make_zip, monkeypatch):
    monkeypatch.setattr("ftdemo.io.safezip.MAX_MEMBERS", 3)
    path = make_zip("a.zip", {f"{i}.txt": b"" for i in range(4)})
    with pytest.raises(InvalidInputError, match="at most 3"):
        read_rows(path)


def test_not_a_zip(write):
    with pytest.raises(InvalidInputError, match="not a readable zip"):
        read_rows(write("a.zip", b"hello"))
