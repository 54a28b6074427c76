"""Expiry maxima announced in CONNACK, default/maximum message expiry, topic expiry."""
import time

import pytest

from mqtt_helpers import Client, PacketTypes, props

pytestmark = pytest.mark.musqratt_only


def test_session_expiry_capped_and_announced(broker_factory):
    b = broker_factory(max_session_expiry=60)
    c = Client(b, version=5, session_expiry=3600, clean=True)
    assert c.connack_props.SessionExpiryInterval == 60


def test_session_expiry_not_announced_when_within_limit(broker_factory):
    b = broker_factory(max_session_expiry=60)
    c = Client(b, version=5, session_expiry=30)
    assert not hasattr(c.connack_props, "SessionExpiryInterval")


def test_keepalive_capped_with_server_keep_alive(broker_factory):
    b = broker_factory(max_keepalive=30)
    c = Client(b, version=5, keepalive=100)
    assert c.connack_props.ServerKeepAlive == 30


def test_server_keepalive_imposed(broker_factory):
    b = broker_factory(extra_args=["--server-keepalive", "7"])
    c = Client(b, version=5, keepalive=100)
    assert c.connack_props.ServerKeepAlive == 7


def test_default_message_expiry_applies_to_offline_queue(broker_factory):
    b = broker_factory(extra_args=["--default-message-expiry", "1"])
    sub = Client(b, version=5, client_id="offline-exp", clean=False, session_expiry=60)
    sub.subscribe("exp/#", 1)
    sub.disconnect()
    Client(b, version=4).publish("exp/a", b"old", qos=1)
    time.sleep(1.6)  # real time: the default expiry is 1 s
    pub = Client(b, version=4)
    pub.publish("exp/a", b"fresh", qos=1)
    again = Client(b, version=5, client_id="offline-exp", clean=False, session_expiry=60)
    got = again.take(1)
    assert got[0].payload == b"fresh"
    assert got[0].properties.MessageExpiryInterval <= 1
    again.expect_only_marker(pub, "exp/marker")


def test_max_message_expiry_caps_retained(broker_factory):
    b = broker_factory(extra_args=["--max-message-expiry", "1"])
    pub = Client(b)
    pub.publish("ret/x", b"r", qos=1, retain=True,
                properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=3600))
    early = Client(b)
    early.subscribe("ret/x", 1)
    m = early.take(1)[0]
    assert m.retain and m.properties.MessageExpiryInterval <= 1
    time.sleep(1.6)  # real time: capped to 1 s
    late = Client(b)
    late.subscribe("ret/x", 1)
    late.expect_only_marker(pub, "ret/x")


def _topic_count(c, timeout=3.0, want=None):
    """Latest $SYS/broker/topics/count value (waiting for `want` if given)."""
    def counts():
        return [int(m.payload) for m in list(c.messages) if m.topic == "$SYS/broker/topics/count"]
    try:
        c.wait_for(lambda m: m.topic == "$SYS/broker/topics/count" and (want is None or int(m.payload) == want),
                   timeout=timeout)
    except AssertionError:
        pass  # the caller's assertion names the value
    vals = counts()
    if want is not None and want in vals:
        return want
    return vals[-1] if vals else None


def test_topics_disappear_with_their_last_subscriber(broker_factory):
    b = broker_factory(sys_interval=1)
    watcher = Client(b, version=4)
    watcher.subscribe("$SYS/broker/topics/count", 0)
    watcher.take(1)  # the retained value, from before the watcher subscribed
    baseline = _topic_count(watcher)
    assert baseline is not None
    # 3000 topics over a few clients: unsubscribe, clean disconnect and session expiry.
    a = Client(b, version=5)
    for i in range(1000):
        a.subscribe(f"fleet/a/{i}/temp", 0)
    c = Client(b, version=4)
    for i in range(1000):
        c.subscribe(f"fleet/c/{i}", 0)
    e = Client(b, version=5, client_id="expiring", clean=True, session_expiry=1)
    for i in range(1000):
        e.subscribe(f"fleet/e/{i}/x", 0)
    watcher.clear()
    grown = _topic_count(watcher)
    assert grown >= baseline + 3000, (baseline, grown)
    for i in range(1000):
        a.unsubscribe(f"fleet/a/{i}/temp")
    c.disconnect()
    e.disconnect()  # the session lives one more second, then expires
    watcher.clear()
    assert _topic_count(watcher, timeout=5.5, want=baseline) == baseline
