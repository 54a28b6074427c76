"""Will messages: abnormal disconnect, keep-alive timeout, not on normal DISCONNECT;
MQTT 5.0 Will Delay Interval and DISCONNECT 0x04 (with will)."""
import time

import pytest

from mqtt_helpers import (PINGRESP, PINGREQ_PACKET, P_SESSION_EXPIRY, P_USER_PROPERTY,
                          P_WILL_DELAY, Client, RawClient, unique_id)


def _will(topic, payload=b"gone", qos=1, retain=False, props=None):
    return dict(topic=topic, payload=payload, qos=qos, retain=retain, props=props)


@pytest.mark.parametrize("version", [3, 4, 5])
def test_will_on_socket_close(broker, version):
    sub = Client(broker, version=4)
    sub.subscribe("will/t", 1)
    c = RawClient(broker, version)
    c.connect(unique_id(), version=version, will=_will("will/t", b"bye"))
    c.close()  # no DISCONNECT
    m = sub.take(1, timeout=3)[0]
    assert (m.topic, m.payload, m.qos) == ("will/t", b"bye", 1)


@pytest.mark.parametrize("version", [4, 5])
def test_no_will_on_normal_disconnect(broker, version):
    sub = Client(broker, version=4)
    sub.subscribe("will/n", 1)
    c = RawClient(broker, version)
    cid = unique_id()
    c.connect(cid, version=version, will=_will("will/n"))
    c.disconnect()  # reason 0 in 5.0: the will is discarded [MQTT-3.1.2-10]
    broker.wait_client_gone(cid)  # a will would have been routed by now
    sub.expect_only_marker(sub, "will/n")


@pytest.mark.parametrize("version", [4, 5])
def test_will_on_keepalive_timeout(broker, version):
    sub = Client(broker, version=4)
    sub.subscribe("will/ka", 1)
    c = RawClient(broker, version)
    c.connect(unique_id(), version=version, keepalive=1, will=_will("will/ka", b"timeout"))
    t0 = time.monotonic()
    # [MQTT-3.1.2-24] disconnected after 1.5 x keep alive. Mosquitto checks keep alive only
    # every few seconds (it disconnects after about 6 s), so it gets a looser bound.
    limit = 8.0 if broker.is_mosquitto else 3.0
    m = sub.take(1, timeout=limit + 0.5)[0]
    elapsed = time.monotonic() - t0
    assert m.payload == b"timeout"
    assert 1.0 <= elapsed <= limit, f"will after {elapsed:.2f}s, expected about 1.5s"
    c.wait_closed(1)


def test_pingreq_keeps_connection_alive(broker):
    sub = Client(broker, version=4)
    sub.subscribe("will/ping", 1)
    c = RawClient(broker, 4)
    cid = unique_id()
    c.connect(cid, keepalive=1, will=_will("will/ping"))
    for _ in range(5):
        time.sleep(0.5)  # real time: 2.5 s is beyond 1.5 x keep-alive
        c.send(PINGREQ_PACKET)
        c.expect(PINGRESP)
    sub.expect_only_marker(sub, "will/ping")
    c.disconnect()
    broker.wait_client_gone(cid)
    sub.expect_only_marker(sub, "will/ping")


def test_will_retained(broker):
    c = RawClient(broker, 4)
    cid = unique_id()
    c.connect(cid, will=_will("will/ret", b"last", retain=True))
    c.close()
    broker.wait_client_gone(cid)
    sub = Client(broker, version=4)
    sub.subscribe("will/ret", 1)
    m = sub.take(1)[0]
    assert m.payload == b"last" and m.retain


def test_will_v5_disconnect_with_will_0x04(broker):
    sub = Client(broker, version=5)
    sub.subscribe("will/04", 1)
    c = RawClient(broker, 5)
    c.connect(unique_id(), will=_will("will/04", b"asked"))
    c.disconnect(reason=0x04)
    m = sub.take(1)[0]
    assert m.payload == b"asked"


def test_will_v5_properties_forwarded(broker):
    sub = Client(broker, version=5)
    sub.subscribe("will/props", 1)
    c = RawClient(broker, 5)
    c.connect(unique_id(), will=_will("will/props", b"p", props=[(P_USER_PROPERTY, ("k", "v"))]))
    c.close()
    m = sub.take(1)[0]
    assert m.properties.UserProperty == [("k", "v")]


def test_will_delay_interval(broker):
    sub = Client(broker, version=5)
    sub.subscribe("will/delay", 1)
    c = RawClient(broker, 5)
    c.connect(unique_id(), clean=True, props={P_SESSION_EXPIRY: 30},
              will=_will("will/delay", b"late", props={P_WILL_DELAY: 2}))
    t0 = time.monotonic()
    c.close()
    # the first message to arrive is the will, not before 1.5 s: nothing came earlier
    m = sub.take(1, timeout=4.2)[0]
    elapsed = time.monotonic() - t0
    assert m.payload == b"late"
    assert 1.5 <= elapsed <= 4.0, f"will after {elapsed:.2f}s, expected about 2s"


def test_will_delay_cancelled_by_reconnect(broker):
    sub = Client(broker, version=5)
    sub.subscribe("will/cancel", 1)
    cid = unique_id()
    c = RawClient(broker, 5)
    c.connect(cid, clean=False, props={P_SESSION_EXPIRY: 30},
              will=_will("will/cancel", b"never", props={P_WILL_DELAY: 1}))
    c.close()
    broker.wait_client_gone(cid)  # a reconnect, not a takeover
    c = RawClient(broker, 5)
    assert c.connect(cid, clean=False, props={P_SESSION_EXPIRY: 30}).session_present
    # [MQTT-3.1.3-9] the will is not sent if the session is resumed before the delay ends
    time.sleep(1.5)  # real time: past the will delay (1 s) and a housekeeping turn
    sub.expect_only_marker(sub, "will/cancel")
    c.disconnect()


def test_will_delay_bounded_by_session_expiry(broker):
    # the will is published when the session ends, even if the will delay is longer
    sub = Client(broker, version=5)
    sub.subscribe("will/se", 1)
    c = RawClient(broker, 5)
    c.connect(unique_id(), props={P_SESSION_EXPIRY: 1},
              will=_will("will/se", b"session-ended", props={P_WILL_DELAY: 60}))
    c.close()
    m = sub.take(1, timeout=3.5)[0]
    assert m.payload == b"session-ended"


@pytest.mark.parametrize("version", [4, 5])
def test_will_on_protocol_error(broker, version):
    # a connection the server closes because of a protocol error is not a normal DISCONNECT:
    # the will is published [MQTT-3.1.2-8]
    sub = Client(broker, version=4)
    sub.subscribe("will/err", 1)
    c = RawClient(broker, version)
    c.connect(unique_id(), version=version, will=_will("will/err", b"broken"))
    c.send(b"\x30\xff\xff\xff\xff\x01")  # 5-byte remaining length: malformed
    c.wait_closed(3)
    assert sub.take(1)[0].payload == b"broken"


def test_keepalive_timeout_reaches_every_connection_among_many(broker):
    """The keep-alive check visits the connection table a share at a time (so that thousands of
    connections never hold the loop in one go): none of them may be skipped or checked late."""
    n = 300
    sub = Client(broker, version=4)
    sub.subscribe("will/many/+", 1)
    silent = []
    for i in range(n):
        c = RawClient(broker, 4)
        c.connect(unique_id(), keepalive=1, will=_will(f"will/many/{i}", str(i).encode()))
        silent.append(c)
    t0 = time.monotonic()
    limit = 8.0 if broker.is_mosquitto else 3.5
    got = sub.take(n, timeout=limit + 1)
    elapsed = time.monotonic() - t0
    assert sorted(int(m.payload) for m in got) == list(range(n))
    assert elapsed <= limit, f"last will after {elapsed:.2f}s, expected within {limit}s"
    for c in silent:
        c.close()
