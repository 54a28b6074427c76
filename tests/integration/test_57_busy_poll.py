"""Polling before sleeping (`epoll_busy_poll_us`, docs/transports.md): after a loop turn that read
or wrote 64 KiB or more, an epoll worker polls for input that long before it sleeps. A stream of
large messages arrives whole and in order with the longest window allowed, and once the stream
stops the worker sleeps again: an idle broker spends no CPU, whatever the window. A worker that
only writes a stream polls too."""
import re
import subprocess
import time

import pytest

from conftest import MUSQRATT_BIN
from mqtt_helpers import PUBACK, RawClient, numbered_publish, publish_packet, receive_numbered, stream_pair, unique_id

pytestmark = pytest.mark.musqratt_only

COUNT = 600
SIZE = 16 * 1024


def cpu_seconds(pid):
    """User + system CPU of the whole process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime, stime in clock ticks (USER_HZ = 100)


def test_the_worker_says_how_long_it_polls(broker_factory):
    b = broker_factory(extra_args=["--transport", "epoll", "--epoll-busy-poll-us", "75"])
    b.wait_log(r"worker 0: after a turn that read or wrote 64 KiB or more it polls up to 75 us before sleeping")


def test_zero_turns_it_off(broker_factory):
    b = broker_factory(extra_args=["--transport", "epoll", "--epoll-busy-poll-us", "0"])
    b.wait_log(r"\brunning\b")
    assert "polls up to" not in b.log()


def test_a_window_beyond_the_limit_is_refused_with_its_name():
    r = subprocess.run([MUSQRATT_BIN, "--check-config", "--epoll-busy-poll-us", "20000"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "--epoll-busy-poll-us: 20000 is more than 10000" in r.stderr + r.stdout


def test_a_stream_of_large_messages_arrives_whole_then_the_idle_worker_sleeps(broker_factory):
    # The longest window: every turn of the stream polls, and a poll that finds nothing lasts
    # 10 ms, long enough to notice if it never ended.
    b = broker_factory(extra_args=["--transport", "epoll", "--epoll-busy-poll-us", "10000", "--threads", "1"])
    topic, sub, pub = stream_pair(b)
    # In bursts of 50 messages (800 KiB, several full reads each), QoS 1 so none may be dropped.
    for first in range(0, COUNT, 50):
        pub.send(b"".join(numbered_publish(topic, n, SIZE) for n in range(first, first + 50)))
    got = receive_numbered(sub, COUNT)
    assert got == list(range(COUNT)), "lost, repeated or reordered"
    # Idle now: the worker's last poll ran out within 10 ms and it went to sleep. (A worker that
    # polled after every turn, large or not, would spend about 0.1 s here: 10 ms per timer wake.)
    time.sleep(0.2)
    before = cpu_seconds(b.pid)
    time.sleep(2.0)
    spent = cpu_seconds(b.pid) - before
    assert spent < 0.05, f"an idle broker spent {spent:.2f} s of CPU in 2 s: a poll did not end"


def test_a_worker_that_only_writes_a_stream_polls_too(broker_factory, request):
    # One worker. It reads the retained messages one at a time (16 KiB turns, under the 64 KiB
    # that make a reader poll), then writes them all to a subscriber in large turns while
    # reading only its SUBSCRIBE: only what it writes can make it poll.
    b = broker_factory(extra_args=["--transport", "epoll", "--epoll-busy-poll-us", "50", "--threads", "1"])
    prefix = unique_id("kept")
    pub = RawClient(b, timeout=30)
    pub.connect(unique_id("pub"))
    count = 200
    for n in range(count):
        pub.send(publish_packet(f"{prefix}/{n}", n.to_bytes(4, "big") * (SIZE // 4), qos=1, retain=True, pid=n + 1))
        pub.expect(PUBACK)
    sub = RawClient(b, timeout=30)
    sub.connect(unique_id("sub"))
    sub.subscribe(f"{prefix}/#", 0)
    got = sorted(int.from_bytes(sub.recv_publish(30).payload[:4], "big") for _ in range(count))
    assert got == list(range(count))
    assert b.stop() is None
    request.node._brokers.remove(b)  # stopped here, to read what the worker says at shutdown
    polled = re.search(r"worker 0: polled before sleeping (\d+) times", b.log())
    assert polled and int(polled.group(1)) > 0, \
        f"the worker wrote {count} messages of 16 KiB and never polled:\n{b.log()[-3000:]}"
