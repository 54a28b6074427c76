"""Large payloads, byte for byte: the broker writes payloads from 4 KiB on straight from the
shared message (a gathered write) instead of copying them into the connection's output first.
Every subscriber must still get every payload whole and in order: a fast one, a slow one whose
socket fills so that writes stop inside payloads and resume on the next turn, a 5.0 one with a
subscription identifier in each header, and a late one that gets a large retained message."""
import hashlib

import pytest

from mqtt_helpers import P_SUBSCRIPTION_ID, PUBLISH, RawClient, unique_id

# Around the size where payloads go by reference (4096), far beyond the socket buffers, tiny.
SIZES = [4096, 4095, 5000, 100, 300_000, 16_384, 1, 70_000, 4097, 1_000_000, 0, 8192]
ROUNDS = 3


def payload(n, size):
    """Distinct bytes for message n: a torn or misplaced run of bytes shows."""
    seed = hashlib.sha256(f"{n}:{size}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def expected():
    return [payload(n, size) for n, size in enumerate(SIZES * ROUNDS)]


def receive_all(client, count, timeout=30.0, chunk=None):
    """`count` PUBLISH packets, acknowledged; read `chunk` bytes at a time if given (a slow
    reader: the broker's writes to it stop and resume many times inside each payload)."""
    got = []
    client.sock.settimeout(timeout)
    while len(got) < count:
        if not chunk:
            got.append(client.recv_publish(timeout))
            continue
        data = client.sock.recv(chunk)
        assert data, "connection closed"
        client.buf += data
        while (p := client.take_buffered()) is not None:
            assert p.type == PUBLISH, p
            client._complete(p)
            got.append(p)
    return got


def test_large_payloads_reach_fast_slow_and_v5_subscribers_whole(broker):
    topic = unique_id("big")
    fast = RawClient(broker, timeout=30)
    fast.connect(unique_id("fast"))
    fast.subscribe(topic, 1)
    slow = RawClient(broker, timeout=30, rcvbuf=16384)
    slow.connect(unique_id("slow"))
    slow.subscribe(topic, 1)
    v5 = RawClient(broker, version=5, timeout=30)
    v5.connect(unique_id("v5"))
    v5.subscribe(topic, 1, props={P_SUBSCRIPTION_ID: 7})
    pub = RawClient(broker, timeout=30)
    pub.connect(unique_id("pub"))

    want = expected()
    fast_got = []
    for i, body in enumerate(want):
        pub.publish(topic, body, qos=1 if i % 2 else 0)
        # The fast subscriber keeps up; the slow one reads nothing yet, so the broker's writes
        # to it stop wherever its socket is full.
        fast_got.append(fast.recv_publish())
    slow_got = receive_all(slow, len(want), chunk=8192)
    v5_got = receive_all(v5, len(want))

    for name, got in (("fast", fast_got), ("slow", slow_got), ("v5", v5_got)):
        sizes = [len(p.payload) for p in got]
        assert sizes == [len(b) for b in want], f"{name}: sizes {sizes}"
        for i, (p, body) in enumerate(zip(got, want)):
            assert p.payload == body, f"{name}: message {i} ({len(body)} bytes) differs"
            assert p.topic == topic
    if broker.is_musqratt:
        assert all(p.props.get(P_SUBSCRIPTION_ID) == 7 for p in v5_got), "subscription identifier lost"


@pytest.mark.parametrize("size", [4096, 500_000])
def test_large_retained_message_reaches_late_subscribers_whole(broker, size):
    topic = unique_id("big-retained")
    body = payload(99, size)
    pub = RawClient(broker, timeout=30)
    pub.connect(unique_id("pub"))
    pub.publish(topic, body, qos=1, retain=True)
    for _ in range(3):
        late = RawClient(broker, timeout=30)
        late.connect(unique_id("late"))
        late.subscribe(topic, 1)
        p = late.recv_publish()
        assert p.retain and p.payload == body
        late.disconnect()
