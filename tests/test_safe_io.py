"""safe_io.write_file: files are published whole and never clobber what exists."""

import os

import pytest

from tinygrad_lite.safe_io import write_file


def test_refuses_an_existing_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_file(target, "new")
    assert target.read_text() == "mine"


def test_refuses_a_dangling_symlink_and_leaves_its_target_alone(tmp_path):
    victim = tmp_path / "victim.txt"
    link = tmp_path / "out.svg"
    link.symlink_to(victim)
    with pytest.raises(FileExistsError):
        write_file(link, "x")
    assert not victim.exists()


def test_overwrite_replaces_a_symlink_itself_not_what_it_points_to(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "out.txt"
    link.symlink_to(victim)
    write_file(link, "new", overwrite=True)
    assert victim.read_text() == "precious"
    assert not link.is_symlink() and link.read_text() == "new"


def test_leaves_no_temporary_file_behind(tmp_path):
    write_file(tmp_path / "a.bin", b"\x00\x01")
    with pytest.raises(FileExistsError):
        write_file(tmp_path / "a.bin", b"\x02")
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = write_file(tmp_path / "p.txt", "x")
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o640
