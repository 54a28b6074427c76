"""The io_uring transport with SQPOLL rings (--uring-sqpoll): the start-up log says whether the
kernel granted SQPOLL (or why not), and messages pass both while the SQ thread polls and after
it has gone to sleep (the next submission must wake it: IORING_SQ_NEED_WAKEUP)."""
import os
import re
import time
from pathlib import Path

import pytest

from conftest import MUSQRATT_BIN
from mqtt_helpers import Client, unique_id

pytestmark = pytest.mark.musqratt_only

IDLE_MS = 50


def _built_with_liburing():
    # The CMake cache of the build the binary comes from; unknown (a wrapper script) = assume so.
    cache = Path(os.path.realpath(MUSQRATT_BIN)).parent.parent / "CMakeCache.txt"
    return not cache.exists() or "LIBURING_FOUND:INTERNAL=1" in cache.read_text(errors="replace")


def _sqpoll_broker(broker_factory, threads):
    if not _built_with_liburing():
        pytest.skip("built without liburing")
    b = broker_factory(threads=threads, extra_args=["--transport", "io_uring", "--uring-sqpoll", "true",
                                                    "--uring-sqpoll-idle-ms", str(IDLE_MS)])
    log = b.log()
    if "io_uring unavailable" in log:
        pytest.skip("the kernel refuses io_uring here: the broker runs on epoll")
    assert f"{threads} io_uring worker thread(s) started" in log, log
    refused = re.search(r"io_uring SQPOLL unavailable \((.+)\): rings without SQPOLL", log)
    active = re.findall(r"worker (\d+): io_uring SQPOLL active \((.*?), sleeps after (\d+) ms idle\)", log)
    if refused:
        assert not active, log  # one or the other, never both
    else:
        # Every worker has an SQPOLL ring; those after the first share its SQ thread unless the
        # kernel refused IORING_SETUP_ATTACH_WQ.
        assert sorted(int(w) for w, _, _ in active) == list(range(threads)), log
        assert all(ms == str(IDLE_MS) for _, _, ms in active), log
        assert active[0][1] == "own SQ thread", log
    return b


@pytest.mark.parametrize("threads", [1, 2])
def test_sqpoll_ring_carries_messages_in_order(broker_factory, threads):
    b = _sqpoll_broker(broker_factory, threads)
    # Several pairs, so that with two workers connections land on both and deliveries cross.
    pairs = []
    for i in range(6):
        sub = Client(b, version=5 if i % 2 else 4)
        sub.subscribe(f"sq/{i}", 1)
        pairs.append((Client(b, version=4), sub, f"sq/{i}"))
    n = 300
    for pub, _, topic in pairs:
        for seq in range(n):
            pub.publish(topic, str(seq).encode(), qos=seq % 3, wait=False)
    for _, sub, topic in pairs:
        got = sub.take(n, timeout=10)
        assert [m.topic for m in got] == [topic] * n
        # QoS 0, 1 and 2 interleaved on one connection: per-QoS order is what the spec requires.
        for q in range(3):
            assert [int(m.payload) for m in got if int(m.payload) % 3 == q] == list(range(q, n, 3))


def test_sqpoll_thread_is_woken_after_idling(broker_factory):
    b = _sqpoll_broker(broker_factory, 1)
    sub = Client(b, version=5)
    sub.subscribe("idle/t", 1)
    pub = Client(b, version=5)
    for round_ in range(3):
        # Well past the idle time: the SQ thread sleeps, so the send of this delivery and the
        # recv re-arm only happen if the submission wakes it.
        time.sleep(4 * IDLE_MS / 1000)
        payload = f"{round_}-{unique_id()}".encode()
        pub.publish("idle/t", payload, qos=1)
        (m,) = sub.take(1, timeout=3)
        assert m.payload == payload
    assert b.alive()
