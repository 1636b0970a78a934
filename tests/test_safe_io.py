"""safe_io.write_file: files are published whole and never clobber what exists."""

import errno
import os
import stat
import sys

import numpy as np
import pytest

from tinygrad_lite import safe_io
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


# -- adversarial cases: planted links, races, odd file systems, failures ------------------


def test_a_symlink_planted_at_the_temporary_name_is_skipped_not_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    planted = tmp_path / ".out.txt.guessed.tmp"
    planted.symlink_to(victim)
    names = iter([planted.name, ".out.txt.fresh.tmp"])
    monkeypatch.setattr(safe_io, "_temp_name", lambda target: next(names))
    write_file(tmp_path / "out.txt", "new")
    assert victim.read_text() == "precious"
    assert planted.is_symlink()  # left alone
    assert (tmp_path / "out.txt").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == sorted([".out.txt.guessed.tmp", "out.txt", "victim.txt"])


def test_a_dangling_symlink_planted_at_the_temporary_name_creates_nothing(tmp_path, monkeypatch):
    planted = tmp_path / ".out.txt.guessed.tmp"
    planted.symlink_to(tmp_path / "would-be-created")
    names = iter([planted.name, ".out.txt.fresh.tmp"])
    monkeypatch.setattr(safe_io, "_temp_name", lambda target: next(names))
    write_file(tmp_path / "out.txt", "new")
    assert not (tmp_path / "would-be-created").exists()


def test_temporary_names_are_unpredictable(tmp_path):
    target = tmp_path / "a.txt"
    assert len({safe_io._temp_name(target) for _ in range(50)}) == 50


def test_a_file_created_between_the_check_and_the_publish_is_kept(tmp_path, monkeypatch):
    target = tmp_path / "race.txt"
    real_fsync = os.fsync

    def racing_fsync(fd):
        if not target.exists():
            target.write_text("someone else's")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", racing_fsync)
    with pytest.raises(FileExistsError, match="appeared while writing"):
        write_file(target, "mine")
    assert target.read_text() == "someone else's"
    assert os.listdir(tmp_path) == ["race.txt"]


def test_the_data_is_on_disk_before_the_name_appears(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_link = os.fsync, os.link
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "link", lambda *a, **k: (calls.append("link"), real_link(*a, **k))[1])
    write_file(tmp_path / "d.txt", "x")
    assert calls.index("fsync") < calls.index("link")


def no_hard_links(*args, **kwargs):
    raise OSError(errno.EPERM, "Operation not permitted")


def test_without_hard_links_the_rename_still_never_replaces(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "link", no_hard_links)
    target = write_file(tmp_path / "a.txt", "first")
    assert target.read_text() == "first"
    with pytest.raises(FileExistsError):
        write_file(target, "second")
    assert target.read_text() == "first"
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileExistsError):
        write_file(link, "x")
    assert not (tmp_path / "nowhere").exists()
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "dangling"]


def test_without_hard_links_or_renameat2_the_exclusive_create_never_replaces(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "link", no_hard_links)
    monkeypatch.setattr(safe_io, "_rename_noreplace", lambda temp, target: False)
    target = write_file(tmp_path / "a.txt", "first")
    assert target.read_text() == "first"
    with pytest.raises(FileExistsError):
        write_file(target, "second")
    assert target.read_text() == "first"
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileExistsError):
        write_file(link, "x")
    assert not (tmp_path / "nowhere").exists()
    assert sorted(os.listdir(tmp_path)) == ["a.txt", "dangling"]


def test_a_failed_in_place_write_removes_what_it_created(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "link", no_hard_links)
    monkeypatch.setattr(safe_io, "_rename_noreplace", lambda temp, target: False)
    real_write, writes = os.write, []

    def second_write_fails(fd, data):
        writes.append(fd)
        if len(writes) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", second_write_fails)
    with pytest.raises(OSError, match="No space left"):
        write_file(tmp_path / "a.txt", "data")
    assert os.listdir(tmp_path) == []


def test_a_full_disk_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space left") as info:
        write_file(target, "new", overwrite=True)
    assert info.value.filename == str(target)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_an_interrupt_while_writing_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_file(tmp_path / "a.txt", "x")
    assert os.listdir(tmp_path) == []


def test_overwrite_keeps_the_permissions_of_the_replaced_file(tmp_path):
    target = tmp_path / "private.txt"
    target.write_text("secret")
    target.chmod(0o600)
    write_file(target, "new secret", overwrite=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_private_file_is_never_readable_by_others_while_it_is_replaced(tmp_path, monkeypatch):
    target = tmp_path / "private.txt"
    target.write_text("old secret")
    target.chmod(0o600)
    modes = []
    real_write_all = safe_io._write_all

    def spy(fd, data):  # the temporary file's mode when the data goes in
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real_write_all(fd, data)

    monkeypatch.setattr(safe_io, "_write_all", spy)
    previous = os.umask(0o022)  # the usual umask, under which a new file is 0o644
    try:
        write_file(target, "new secret", overwrite=True)
    finally:
        os.umask(previous)
    assert modes == [0o600]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_the_mode_of_a_replaced_file_is_kept_when_it_is_wider_than_private(tmp_path):
    target = tmp_path / "shared.txt"
    target.write_text("old")
    target.chmod(0o640)
    write_file(target, "new", overwrite=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_path_ending_in_a_separator_names_a_folder_and_creates_nothing(tmp_path):
    for overwrite in (False, True):
        with pytest.raises(IsADirectoryError):
            write_file(str(tmp_path / "out.txt") + os.sep, "x", overwrite=overwrite)
    assert os.listdir(tmp_path) == []


def test_the_umask_is_never_changed_not_even_briefly(tmp_path, monkeypatch):
    def no_umask_changes(mask):
        raise AssertionError("os.umask changes the mask of every thread in the process")

    monkeypatch.setattr(os, "umask", no_umask_changes)
    assert write_file(tmp_path / "a.txt", "x").read_text() == "x"


def test_errors_name_the_target_not_the_temporary_file(tmp_path):
    long_name = tmp_path / ("a" * 300 + ".txt")
    with pytest.raises(OSError) as info:
        write_file(long_name, "x")
    assert info.value.errno == errno.ENAMETOOLONG
    assert ".tmp" not in str(info.value)
    with pytest.raises(FileNotFoundError) as info:
        write_file(tmp_path / "missing" / "a.txt", "x")
    assert "missing" in str(info.value) and ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_a_folder_at_the_target_is_never_replaced(tmp_path):
    folder = tmp_path / "out.svg"
    folder.mkdir()
    with pytest.raises(FileExistsError):
        write_file(folder, "x")
    with pytest.raises(IsADirectoryError):
        write_file(folder, "x", overwrite=True)
    assert folder.is_dir() and sorted(os.listdir(tmp_path)) == ["out.svg"]


def test_text_is_written_as_utf8_and_other_data_is_refused(tmp_path):
    assert write_file(tmp_path / "u.txt", "grad ‖∇‖").read_bytes() == "grad ‖∇‖".encode()
    with pytest.raises(TypeError, match="bytes or str"):
        write_file(tmp_path / "n.bin", np.ones(3))
    assert sorted(os.listdir(tmp_path)) == ["u.txt"]


# -- the project's writers go through write_file --------------------------------------------


def _drawing():
    import viz
    from tinygrad_lite import Value

    return viz.draw(Value(2.0, label="x") * 3)


def test_viz_save_refuses_a_dangling_symlink_and_creates_nothing_where_it_points(tmp_path):
    import viz

    victim = tmp_path / "victim.dot"
    (tmp_path / "g.dot").symlink_to(victim)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        viz.save(_drawing(), tmp_path / "g", ["dot"])
    assert not victim.exists()


def test_viz_save_with_overwrite_replaces_a_symlink_not_its_target(tmp_path):
    import viz

    victim = tmp_path / "victim.dot"
    victim.write_text("precious")
    (tmp_path / "g.dot").symlink_to(victim)
    viz.save(_drawing(), tmp_path / "g", ["dot"], overwrite=True)
    assert victim.read_text() == "precious"
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


def test_viz_save_never_replaces_a_file_that_appears_while_rendering(tmp_path, monkeypatch):
    import viz
    import viz.dot

    target = tmp_path / "g.svg"

    def slow_pipe(self, *args, **kwargs):
        target.write_text("someone else's")  # appears after viz.save checked
        return b"<svg/>"

    monkeypatch.setattr(viz.dot.Drawing, "pipe", slow_pipe)
    with pytest.raises(FileExistsError):
        viz.save(_drawing(), tmp_path / "g", ["svg"])
    assert target.read_text() == "someone else's"
    assert os.listdir(tmp_path) == ["g.svg"]


def test_running_out_of_temporary_names_is_not_reported_as_an_existing_target(
    tmp_path, monkeypatch
):
    (tmp_path / ".taken").write_text("")
    monkeypatch.setattr(safe_io, "_temp_name", lambda target: ".taken")
    with pytest.raises(FileExistsError, match="no free temporary name"):
        write_file(tmp_path / "a.txt", "x")
    assert not (tmp_path / "a.txt").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_rename_noreplace_publishes_and_refuses_atomically(tmp_path):
    first, second, target = tmp_path / "1", tmp_path / "2", tmp_path / "t"
    first.write_text("a")
    second.write_text("b")
    if not safe_io._rename_noreplace(first, target):
        pytest.skip("this file system has no RENAME_NOREPLACE")
    with pytest.raises(FileExistsError):
        safe_io._rename_noreplace(second, target)
    assert target.read_text() == "a" and second.exists()


@pytest.fixture
def fake_dot(monkeypatch):
    """Drawing.pipe without Graphviz: the bytes of a tiny SVG."""
    import viz.dot

    monkeypatch.setattr(viz.dot.Drawing, "pipe", lambda self, *a, **k: b"<svg/>")


def test_drawing_render_writes_graphvizs_file_names_and_refuses_to_overwrite(tmp_path, fake_dot):
    drawing = _drawing()
    assert drawing.render(tmp_path / "out" / "y", format="svg") == str(tmp_path / "out/y.svg")
    assert sorted(os.listdir(tmp_path / "out")) == ["y", "y.svg"]
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _drawing().render(tmp_path / "out" / "y", format="svg")
    _drawing().render(tmp_path / "out" / "y", format="svg", overwrite=True)
    assert _drawing().render(outfile=tmp_path / "z.png") == str(tmp_path / "z.png")
    assert (tmp_path / "z.gv").read_text().startswith("digraph")


def test_drawing_render_never_writes_through_a_dangling_symlink(tmp_path, fake_dot):
    victim = tmp_path / "victim.svg"
    (tmp_path / "y.svg").symlink_to(victim)
    with pytest.raises(FileExistsError):
        _drawing().render(tmp_path / "y", format="svg")
    assert not victim.exists() and not (tmp_path / "y").exists()


def test_drawing_save_refuses_an_existing_source(tmp_path):
    (tmp_path / "g.gv").write_text("precious")
    with pytest.raises(FileExistsError):
        _drawing().save(tmp_path / "g.gv")
    assert (tmp_path / "g.gv").read_text() == "precious"


def test_drawing_view_of_the_same_name_again_needs_overwrite_and_accepts_it(
    tmp_path, fake_dot, monkeypatch
):
    import viz.dot

    opened = []
    monkeypatch.setattr(viz.dot.Drawing, "_view", lambda self, path, **kw: opened.append(path))
    drawing = _drawing()
    drawing.view(tmp_path / "v")
    with pytest.raises(FileExistsError, match=r"view\(\.\.\., overwrite=True\)"):
        drawing.view(tmp_path / "v")
    drawing.view(tmp_path / "v", overwrite=True)
    assert [str(p) for p in opened] == [str(tmp_path / "v.pdf")] * 2


def test_drawing_render_refusal_names_the_call_that_replaces(tmp_path, fake_dot):
    _drawing().render(tmp_path / "y", format="svg")
    with pytest.raises(FileExistsError, match=r"render\(\.\.\., overwrite=True\)"):
        _drawing().render(tmp_path / "y", format="svg")


def test_drawing_render_names_the_file_as_graphviz_does_with_renderer_and_formatter(
    tmp_path, fake_dot
):
    # graphviz.backend.rendering.get_outfile: filepath + [[.formatter].renderer].format
    out = _drawing().render(tmp_path / "y", format="png", renderer="cairo", formatter="gd")
    assert out == str(tmp_path / "y.gd.cairo.png")
    out = _drawing().render(tmp_path / "z", format="png", renderer="cairo")
    assert out == str(tmp_path / "z.cairo.png")


def test_the_readme_quick_start_runs_twice_in_the_same_folder(tmp_path):
    import re
    import subprocess
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    quick_start = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert 'render("out/y"' in quick_start  # the block that writes a file
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, "-c", quick_start], cwd=tmp_path, env=env, capture_output=True
        )
        assert run.returncode == 0, run.stderr.decode()
    assert (tmp_path / "out" / "y.svg").exists()


def test_a_memoryview_is_written_without_a_copy(tmp_path):
    import tracemalloc

    data = bytearray(b"x" * 8_000_000)
    tracemalloc.start()
    try:
        write_file(tmp_path / "big.bin", memoryview(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"{peak:,} bytes traced while writing 8 MB"
    assert (tmp_path / "big.bin").stat().st_size == 8_000_000
