"""run_limited: a piece of work in a child process, within a time and a memory limit."""
import os
import subprocess
import time

import pytest

from foundation.limits import Limits, run_limited


def test_a_value_comes_back():
    result = run_limited(lambda: {"pid": os.getpid()}, Limits(seconds=30))
    assert result.ok and result.value["pid"] != os.getpid()


def test_work_over_the_time_limit_is_stopped_with_what_it_started():
    def hang():
        proc = subprocess.Popen(["sleep", "300"])
        with open(pid_file, "w") as f:     # the child's memory is its own: the pid comes back in a file
            f.write(str(proc.pid))
        time.sleep(300)

    pid_file = f"/tmp/limits-test-{os.getpid()}"
    started = time.monotonic()
    result = run_limited(hang, Limits(seconds=1))
    assert time.monotonic() - started < 10
    assert not result.ok and result.problem == "exceeded the time limit of 1 s; stopped"
    grandchild = int(open(pid_file).read())
    os.unlink(pid_file)
    with pytest.raises(ChildProcessError):
        os.waitpid(grandchild, os.WNOHANG)   # not our child: it must be gone from the process table
    assert not os.path.exists(f"/proc/{grandchild}") or open(f"/proc/{grandchild}/stat").read().split()[2] == "Z"


def test_work_over_the_memory_limit_is_stopped():
    result = run_limited(lambda: len(bytearray(512 * 1024 * 1024)), Limits(seconds=30, memory_mb=64))
    assert not result.ok and result.problem == "exceeded the memory limit of 64 MiB; stopped"


def test_an_exception_is_reported_with_its_type():
    def boom():
        raise ValueError("bad value 7")
    result = run_limited(boom, Limits(seconds=30))
    assert not result.ok and result.problem == "the audit raised ValueError: bad value 7"


def test_a_limit_must_be_positive():
    with pytest.raises(ValueError, match="positive seconds, got 0"):
        Limits(seconds=0)
