"""Every entry of a hostile folder gets one row within its limit, and the audit ends.

The audit runs as the real command (`python -m flows.cli audit`) in a subprocess with a hard
timeout: a hang fails the test instead of hanging the suite.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import time

import imageio_ffmpeg
import pytest

from compliance import Limits, audit_paths

pytestmark = pytest.mark.slow   # whole renders or many CLI processes: `make test-fast` leaves them out

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
PIPE_BUFFER = 65536   # Linux pipe capacity: more stderr than this blocks a writer nobody drains


def _audit(home, *paths, limit=60, json_out=True, prefix=()):
    cmd = [*prefix, sys.executable, "-m", "flows.cli", "audit", "--home", str(home),
           "--time-limit", str(limit), *(["--json"] if json_out else []), *map(str, paths)]
    started = time.monotonic()
    result = subprocess.run(cmd, capture_output=True, timeout=600)
    return result, time.monotonic() - started


def _corrupt_nal_mp4(path):
    """A real H.264 encode with its NAL units overwritten: ffmpeg writes > 64 KB of errors decoding it."""
    subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
                    "-t", "8", "-c:v", "libx264", "-g", "1", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                    str(path)], check=True)
    data = bytearray(path.read_bytes())
    rng = random.Random(7)
    for pos in range(data.find(b"mdat") + 64, len(data), 211):
        data[pos:pos + 4] = rng.randbytes(4)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    _corrupt_nal_mp4(folder / "corrupt.mp4")
    os.mkfifo(folder / "fifo.mp4")
    os.symlink("/dev/zero", folder / "zero.mp4")
    os.symlink("loop-b.mp4", folder / "loop-a.mp4")
    os.symlink("loop-a.mp4", folder / "loop-b.mp4")
    os.symlink("gone.mp4", folder / "broken.mp4")
    subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1",
                    str(folder / "plain.jpg")], check=True)
    shutil.copy(folder / "plain.jpg", folder / "red\x1b[31mALERT\x1b[0m.jpg")
    shutil.copy(folder / "plain.jpg", folder / "two\nlines.jpg")
    shutil.copy(folder / "plain.jpg", os.fsdecode(bytes(folder) + b"/bad\xffbyte.jpg"))
    return folder


def test_the_corrupt_stream_really_overflows_a_stderr_pipe(hostile):
    err = subprocess.run([FFMPEG, "-nostdin", "-i", str(hostile / "corrupt.mp4"), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         timeout=120).stderr
    assert len(err) > PIPE_BUFFER


def test_every_hostile_entry_gets_one_row_and_the_audit_ends(hostile, tmp_path):
    result, seconds = _audit(tmp_path, hostile, limit=60)
    assert result.returncode == 1, result.stderr.decode()
    rows = {os.path.basename(r["path"]): r for r in json.loads(result.stdout)}
    names = ["broken.mp4", "corrupt.mp4", "fifo.mp4", "loop-a.mp4", "loop-b.mp4", "plain.jpg",
             "red\x1b[31mALERT\x1b[0m.jpg", "two\nlines.jpg", "zero.mp4", "bad\udcffbyte.jpg"]
    assert sorted(rows) == sorted(names) and len(json.loads(result.stdout)) == len(names)
    assert rows["fifo.mp4"]["verdict"] == "fail"
    assert rows["fifo.mp4"]["problems"] == ["not a regular file (FIFO): not opened"]
    assert rows["zero.mp4"]["problems"] == ["not a regular file (symlink to /dev/zero, a character device): not opened"]
    assert rows["loop-a.mp4"]["problems"] == ["symlink loop: not followed"]
    assert rows["broken.mp4"]["problems"] == ["broken symlink (target gone.mp4 does not exist)"]
    # the corrupt encode is read to its end (no credentials; recovery cannot decode it cleanly)
    assert rows["corrupt.mp4"]["verdict"] in ("warn", "fail")
    assert rows["plain.jpg"]["problems"] == ["no content credentials"]
    assert seconds < 60 * len(names)


def test_names_are_escaped_in_the_table(hostile, tmp_path):
    result, _ = _audit(tmp_path, hostile, json_out=False)
    out = result.stdout.decode()
    assert "\x1b" not in out
    assert "red\\x1b[31mALERT\\x1b[0m.jpg" in out and "two\\nlines.jpg" in out and "bad\\udcffbyte.jpg" in out
    # five special entries fail; the corrupt encode warns, or fails when its time limit runs out on a busy machine
    assert out.strip().splitlines()[-1] in ("10 files: 0 pass, 5 warn, 5 fail", "10 files: 0 pass, 4 warn, 6 fail")


def test_an_unreadable_folder_is_a_fail_row(tmp_path, hostile):
    folder = tmp_path / "in"
    (folder / "locked").mkdir(parents=True)
    shutil.copy(hostile / "plain.jpg", folder / "seen.jpg")
    shutil.copy(hostile / "plain.jpg", folder / "locked" / "hidden.jpg")
    os.chmod(folder / "locked", 0)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        # root reads any folder: drop the capabilities that let it, so mode 000 binds it too
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a folder unreadable to root")
        caps = "-dac_override,-dac_read_search"
        prefix = (setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", "--")
    home = tmp_path / "home"
    home.mkdir()
    try:
        result, _ = _audit(home, folder, prefix=prefix)
    finally:
        os.chmod(folder / "locked", 0o700)
    assert result.returncode == 1, result.stderr.decode()
    rows = {os.path.basename(r["path"]): r for r in json.loads(result.stdout)}
    assert sorted(rows) == ["locked", "seen.jpg"]
    assert rows["locked"]["verdict"] == "fail"
    assert rows["locked"]["problems"] == ["cannot list folder: Permission denied"]


def test_two_hundred_files_each_get_a_row(tmp_path, hostile):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(200):
        shutil.copy(hostile / "plain.jpg", folder / f"f{i:03}.jpg")
    home = tmp_path / "home"
    home.mkdir()
    result, seconds = _audit(home, folder, limit=30)
    rows = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr.decode()
    assert [os.path.basename(r["path"]) for r in rows] == [f"f{i:03}.jpg" for i in range(200)]
    assert all(r["verdict"] == "warn" for r in rows)
    assert seconds < 300


def test_a_file_over_its_time_limit_is_a_fail_row(media):
    [record] = audit_paths([media / "signed.mp4"], anchors_pem=None, lookup=None, region="EU",
                           limits=Limits(seconds=0.001))
    assert record.verdict == "fail"
    assert record.problems == ("cannot verify: exceeded the time limit of 0.001 s; stopped",)


def test_a_missing_home_is_one_line_and_exit_2(tmp_path, hostile):
    result, _ = _audit(tmp_path / "typo", hostile / "plain.jpg")
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [
        f"Error: no Tessera home at {tmp_path / 'typo'} (a mistyped --home? a render creates one)"]
    assert not (tmp_path / "typo").exists()
