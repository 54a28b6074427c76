"""The number of workers when `threads` is 0 (the default): one per CPU the process may run on
but one, at least one; the affinity mask (taskset, a container's cpuset) counts, not the
machine's CPU count."""
import os
import re
import select
import shutil
import subprocess
import time

import pytest

from conftest import MUSQRATT_BIN

pytestmark = pytest.mark.musqratt_only


def started_workers(prefix=()):
    """Starts the broker with the default worker count and returns how many workers it started."""
    p = subprocess.Popen([*prefix, MUSQRATT_BIN, "--listen", "127.0.0.1:0", "--threads", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out = b""
        deadline = time.monotonic() + 10
        while (left := deadline - time.monotonic()) > 0:
            # A broker that never prints the line must fail the test, not hang it.
            if not select.select([p.stdout], [], [], left)[0]:
                break
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            out += chunk
            m = re.search(rb"(\d+) \S+ worker thread\(s\) started", out)  # epoll, io_uring
            if m:
                return int(m.group(1))
        raise AssertionError(f"no 'worker thread(s) started' line within 10 s: {out!r}")
    finally:
        p.terminate()
        p.wait(10)


def test_default_leaves_one_cpu_to_the_rest_of_the_machine():
    cpus = len(os.sched_getaffinity(0))
    assert started_workers() == max(1, cpus - 1)


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset (util-linux)")
def test_default_follows_the_affinity_mask():
    allowed = sorted(os.sched_getaffinity(0))
    assert started_workers(["taskset", "-c", str(allowed[0])]) == 1
    if len(allowed) >= 3:
        three = ",".join(str(c) for c in allowed[:3])
        assert started_workers(["taskset", "-c", three]) == 2
