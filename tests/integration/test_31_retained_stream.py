"""Every matching retained message is sent on SUBSCRIBE ([MQTT-3.3.1-6] in 3.1.1, the same rule
in 5.0), however many: they are streamed under flow control, not queued up to
max_queued_messages (10 000 by default) and cut off there."""
import time

import pytest

from mqtt_helpers import PUBACK, PUBLISH, RawClient, publish_packet, unique_id

pytestmark = pytest.mark.musqratt_only

N = 20_000


def _fill_retained(b, n, qos=0):
    pub = RawClient(b, 4, timeout=30)
    pub.connect(unique_id("retainer"))
    batch = b"".join(publish_packet(f"r/{i}", f"v{i}".encode(), qos=qos, retain=True, pid=(i + 1 if qos else None))
                     for i in range(n))
    pub.send(batch)
    for _ in range(n if qos else 0):
        pub.expect(PUBACK)
    pub.publish("r/done", b"end", qos=1, retain=True)  # acknowledged after all of the above
    return pub


@pytest.mark.parametrize("version,qos", [(4, 1), (5, 1), (4, 0)])
def test_subscribe_receives_all_20000_retained_messages(broker_factory, version, qos):
    b = broker_factory(max_inflight=20)
    pub = _fill_retained(b, N)
    sub = RawClient(b, version, timeout=30)
    sub.connect(unique_id("all"))
    sub.subscribe("r/#", qos)
    # A message published after the SUBSCRIBE on a topic that has a retained one comes after it.
    pub.publish("r/7", b"newer", qos=1, retain=True)
    seen = {}
    order = []
    deadline = time.monotonic() + 60
    while len(order) < N + 2 and time.monotonic() < deadline:
        p = sub.recv_publish(timeout=10)
        order.append(p.topic)
        seen.setdefault(p.topic, []).append((p.payload, p.retain))
    assert len(order) == N + 2, f"got {len(order)} of {N + 2}"
    assert len(seen) == N + 1  # r/0 .. r/19999 and r/done
    for i in range(N):
        assert seen[f"r/{i}"][0] == (f"v{i}".encode(), True)  # [MQTT-3.3.1-8]
    assert seen["r/7"][1] == (b"newer", False)  # live, after the retained one
    sub.expect_nothing(0.3)
    assert "queue is full" not in b.log()


def test_slow_reader_gets_retained_messages_in_flow_control_windows(broker_factory):
    """A 5.0 client with Receive Maximum 5 still gets all of them, never more than 5 unacknowledged."""
    b = broker_factory()
    _fill_retained(b, 2_000, qos=1)
    sub = RawClient(b, 5, timeout=30)
    sub.connect(unique_id("slow"), props=[(0x21, 5)])  # Receive Maximum
    sub.subscribe("r/#", 1)
    got = set()
    while len(got) < 2_001:
        window = [sub.expect(PUBLISH, timeout=10) for _ in range(min(5, 2_001 - len(got)))]
        if len(got) == 0:
            sub.expect_nothing(0.1)  # five unacknowledged: the window is full, nothing more yet
        for p in window:
            assert p.qos == 1 and p.retain
            got.add(p.topic)
            sub.send(bytes([PUBACK << 4, 2, p.pid >> 8, p.pid & 0xFF]))
    assert len(got) == 2_001
    sub.expect_nothing(0.3)
