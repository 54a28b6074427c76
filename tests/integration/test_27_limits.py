"""Each configurable limit against hostile or careless clients, crossed on purpose."""
import socket
import time

import pytest

from mqtt_helpers import Client, RawClient, connect_packet, publish_packet, wait_until

pytestmark = pytest.mark.musqratt_only


def test_max_connections(broker_factory):
    b = broker_factory(extra_args=["--max-connections", "3"])
    keep = [Client(b, version=5) for _ in range(3)]
    refused = Client(b, version=5, connect=False)
    refused.connect(expect_rc=0x97)  # quota exceeded
    raw = RawClient(b, 4)
    raw.connect("over-311", expect_rc=3)  # server unavailable
    keep[0].disconnect()
    b.wait_client_gone(keep[0].client_id)
    Client(b, version=5)  # a slot is free again
    assert "connection limit reached" in b.log()


def test_max_connections_per_ip(broker_factory):
    b = broker_factory(extra_args=["--max-connections-per-ip", "2"])
    a, c = RawClient(b, 4), RawClient(b, 4)
    a.connect("ip-1")
    c.connect("ip-2")
    assert _first_bytes(b, "ip-3") == b""  # closed without a CONNACK
    assert "more than 2 connections from 127.0.0.1" in b.log()
    a.close()
    # The slot is given back when the broker has dropped the closed connection's state, just
    # after it logs the disconnect: a new connection is admitted from then on.
    b.wait_client_gone("ip-1")
    got = wait_until(lambda: _first_bytes(b, "ip-4"), timeout=3, what="a connection admitted again")
    assert got[:1] == b"\x20" and got[3:4] == b"\x00", got  # CONNACK, accepted


def _first_bytes(b, client_id):
    """Connects, sends CONNECT and returns the first bytes the broker answers (b"" if it closes)."""
    s = socket.create_connection(("127.0.0.1", b.port), timeout=3)
    s.settimeout(3)
    try:
        s.sendall(connect_packet(client_id, version=4))
        return s.recv(16)
    except (ConnectionResetError, BrokenPipeError):  # closed with our CONNECT unread: RST, not FIN
        return b""
    finally:
        s.close()


def test_max_subscriptions_per_client(broker_factory):
    b = broker_factory(extra_args=["--max-subscriptions-per-client", "2"])
    c = Client(b, version=5)
    c.subscribe("a", 1)
    c.subscribe("b", 1)
    c.subscribe("c", 1, expect=[0x97])
    c.subscribe("a", 0)  # replacing an existing one is not a new subscription


@pytest.mark.parametrize("version", [4, 5])
def test_topic_levels_and_length(broker_factory, version):
    b = broker_factory(extra_args=["--max-topic-levels", "3", "--max-topic-length", "20"])
    c = Client(b, version=version)
    c.subscribe("a/b/c", 1)
    c.subscribe("a/b/c/d", 1, expect=[0x8F if version == 5 else 0x80])
    c.subscribe("x" * 21, 1, expect=[0x8F if version == 5 else 0x80])
    raw = RawClient(b, version)
    raw.connect("deep")
    raw.send(publish_packet("a/b/c/d", b"x", qos=0, version=version))
    if version == 5:
        assert raw.expect(14).rc == 0x90  # DISCONNECT: topic name invalid
    raw.wait_closed()


def test_publish_rate_limit(broker_factory):
    b = broker_factory(extra_args=["--max-publish-rate", "50"])
    ok = RawClient(b, 5)
    ok.connect("polite")
    for i in range(20):
        ok.send(publish_packet("r/x", b"%d" % i, qos=0, version=5))
        time.sleep(0.03)  # real time: about 33 messages/s, below the limit of 50
    flood = RawClient(b, 5)
    flood.connect("flood")
    flood.send(b"".join(publish_packet("r/x", b"f", qos=0, version=5) for _ in range(500)))
    assert flood.expect(14).rc == 0x96  # DISCONNECT: message rate too high
    flood.wait_closed()
    # The polite client is still connected and served.
    ok.send(publish_packet("r/x", b"still", qos=1, pid=1, version=5))
    assert ok.expect(4).pid == 1


def test_max_queued_messages_drops_new_and_counts(broker_factory):
    b = broker_factory(extra_args=["--max-queued-messages", "10", "--sys-interval", "1"])
    sub = Client(b, version=5, client_id="slow", clean=False, session_expiry=60)
    sub.subscribe("q/#", 1)
    sub.disconnect()
    pub = Client(b, version=5)
    for i in range(25):
        pub.publish("q/x", b"%d" % i, qos=1)
    back = Client(b, version=5, client_id="slow", clean=False, session_expiry=60)
    got = back.take(10)
    assert [int(m.payload) for m in got] == list(range(10))  # the oldest kept, the newest dropped
    back.expect_only_marker(pub, "q/marker")


def test_max_queued_bytes(broker_factory):
    b = broker_factory(extra_args=["--max-queued-bytes", "1000"])
    sub = Client(b, version=5, client_id="bytes", clean=False, session_expiry=60)
    sub.subscribe("qb/#", 1)
    sub.disconnect()
    pub = Client(b, version=5)
    for i in range(10):
        pub.publish("qb/x", bytes([48 + i]) * 300, qos=1)
    back = Client(b, version=5, client_id="bytes", clean=False, session_expiry=60)
    got = back.take(3)
    assert len(got) == 3
    back.expect_only_marker(pub, "qb/marker")


def test_max_inflight_window(broker_factory):
    b = broker_factory(extra_args=["--max-inflight", "3"])
    raw = RawClient(b, 4)
    raw.connect("window")
    raw.subscribe("w/#", opts=1)
    pub = Client(b, version=4)
    for i in range(6):
        pub.publish("w/x", b"%d" % i, qos=1)
    first = [raw.recv_publish(ack=False) for _ in range(3)]
    raw.expect_only_pingresp()  # the window is full until something is acknowledged
    from mqtt_helpers import PUBACK, ack_packet
    raw.send(ack_packet(PUBACK, first[0].pid, 4))
    assert raw.recv_publish(ack=False).payload == b"3"
