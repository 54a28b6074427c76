"""MQTT 5.0 Session Expiry Interval and Message Expiry Interval."""
import time

from paho.mqtt.packettypes import PacketTypes

from mqtt_helpers import P_MESSAGE_EXPIRY, P_SESSION_EXPIRY, Client, RawClient, props, unique_id


def test_session_gone_after_expiry(broker):
    cid = unique_id("se")
    c = Client(broker, client_id=cid, version=5, clean=False, session_expiry=1)
    c.subscribe("se/t", 1)
    c.disconnect()
    broker.wait_session_expired(cid)  # after 1 s
    pub = Client(broker, version=5)
    pub.publish("se/t", b"after expiry", qos=1)
    c = Client(broker, client_id=cid, version=5, clean=False, session_expiry=1)
    assert not c.session_present, "session should have expired after 1 s"
    c.subscribe("se/marker", 1)  # a route for the marker only
    c.expect_only_marker(pub, "se/marker")


def test_session_kept_before_expiry(broker):
    cid = unique_id("se")
    c = Client(broker, client_id=cid, version=5, clean=False, session_expiry=5)
    c.subscribe("sk/t", 1)
    c.disconnect()
    time.sleep(1.0)  # real time: a while offline, well within the 5 s expiry
    pub = Client(broker, version=5)
    pub.publish("sk/t", b"kept", qos=1)
    c = Client(broker, client_id=cid, version=5, clean=False, session_expiry=5)
    assert c.session_present
    assert c.take(1)[0].payload == b"kept"


def test_session_expiry_changed_on_disconnect(broker):
    # MQTT 5.0 3.14.2.2.2: DISCONNECT may set a new Session Expiry Interval (non-zero at CONNECT)
    cid = unique_id("sd")
    c = RawClient(broker, 5)
    c.connect(cid, clean=False, props={P_SESSION_EXPIRY: 60})
    c.subscribe("sd/t", 1)
    c.disconnect(reason=0, props={P_SESSION_EXPIRY: 0})
    broker.wait_client_gone(cid)
    c = RawClient(broker, 5)
    assert not c.connect(cid, clean=False, props={P_SESSION_EXPIRY: 60}).session_present


def test_message_expiry_dropped_from_offline_queue(broker):
    cid = unique_id("me")
    sub = Client(broker, client_id=cid, version=5, clean=False, session_expiry=60)
    sub.subscribe("me/t", 1)
    sub.disconnect()
    pub = Client(broker, version=5)
    pub.publish("me/t", b"short", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    pub.publish("me/t", b"long", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=30))
    pub.publish("me/t", b"forever", qos=1)
    time.sleep(2.2)  # real time: the first message expires after 1 s
    sub = Client(broker, client_id=cid, version=5, clean=False, session_expiry=60)
    assert sub.session_present
    msgs = sub.take(2)
    assert [m.payload for m in msgs] == [b"long", b"forever"]
    # [MQTT-3.3.2-6] the forwarded interval is the received value minus the time waited
    remaining = msgs[0].properties.MessageExpiryInterval
    assert 0 < remaining < 30, remaining
    assert remaining <= 28, f"2 s passed but the interval is still {remaining}"
    assert not hasattr(msgs[1].properties, "MessageExpiryInterval")
    sub.expect_only_marker(pub, "me/t")


def test_message_expiry_forwarded_online(broker):
    sub = RawClient(broker, 5)
    sub.connect(unique_id())
    sub.subscribe("mo/t", 1)
    pub = Client(broker, version=5)
    pub.publish("mo/t", b"x", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=100))
    p = sub.recv_publish()
    v = p.props.get(P_MESSAGE_EXPIRY)
    assert v is not None and 98 <= v <= 100, p.props


def test_retained_message_expires(broker):
    pub = Client(broker, version=5)
    pub.publish("rexp/t", b"soon gone", qos=1, retain=True,
                properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    s1 = Client(broker, version=5)
    s1.subscribe("rexp/t", 1)
    assert s1.take(1)[0].payload == b"soon gone"
    time.sleep(2.2)  # real time: the retained message expires after 1 s
    s2 = Client(broker, version=5)
    s2.subscribe("rexp/t", 1)
    s2.expect_only_marker(pub, "rexp/t")
