"""MQTT 5.0 features: topic aliases (client to server), Receive Maximum, Maximum Packet Size
in both directions, and PUBLISH properties passed through unchanged."""
import pytest
from paho.mqtt.packettypes import PacketTypes

from mqtt_helpers import (DISCONNECT, PUBACK, PUBREC, P_CONTENT_TYPE, P_CORRELATION_DATA,
                          P_MAXIMUM_PACKET_SIZE, P_PAYLOAD_FORMAT, P_RECEIVE_MAXIMUM,
                          P_RESPONSE_TOPIC, P_TOPIC_ALIAS, P_TOPIC_ALIAS_MAXIMUM,
                          P_USER_PROPERTY, Client, RawClient, assert_healthy, props,
                          publish_packet, unique_id)


# -- topic aliases --------------------------------------------------------------------------
def test_topic_alias_client_to_server(broker):
    sub = Client(broker, version=5)
    sub.subscribe("alias/#", 1)
    c = RawClient(broker, 5)
    ack = c.connect(unique_id())
    assert ack.props.get(P_TOPIC_ALIAS_MAXIMUM, 0) >= 2
    c.publish("alias/one", b"1", qos=1, props={P_TOPIC_ALIAS: 1})
    c.publish("", b"2", qos=1, props={P_TOPIC_ALIAS: 1})  # empty topic: use the alias
    c.publish("alias/two", b"3", qos=0, props={P_TOPIC_ALIAS: 2})
    c.publish("", b"4", qos=1, props={P_TOPIC_ALIAS: 2})
    c.publish("alias/three", b"5", qos=1, props={P_TOPIC_ALIAS: 1})  # re-map alias 1
    c.publish("", b"6", qos=1, props={P_TOPIC_ALIAS: 1})
    msgs = sub.take(6)
    assert [(m.topic, m.payload) for m in msgs] == [
        ("alias/one", b"1"), ("alias/one", b"2"), ("alias/two", b"3"), ("alias/two", b"4"),
        ("alias/three", b"5"), ("alias/three", b"6")]
    # the subscriber does not see the publisher's alias
    assert all(not hasattr(m.properties, "TopicAlias") for m in msgs)


def test_topic_alias_is_per_connection(broker):
    sub = Client(broker, version=5)
    sub.subscribe("pc/#", 1)
    a = RawClient(broker, 5)
    a.connect(unique_id())
    a.publish("pc/a", b"a", qos=1, props={P_TOPIC_ALIAS: 1})
    b = RawClient(broker, 5)
    b.connect(unique_id())
    b.publish("pc/b", b"b", qos=1, props={P_TOPIC_ALIAS: 1})
    a.publish("", b"a2", qos=1, props={P_TOPIC_ALIAS: 1})
    msgs = sub.take(3)
    assert [(m.topic, m.payload) for m in msgs] == [("pc/a", b"a"), ("pc/b", b"b"), ("pc/a", b"a2")]


@pytest.mark.parametrize("alias", [0, "max+1"])
def test_topic_alias_invalid_disconnect_0x94(broker, alias):
    c = RawClient(broker, 5)
    ack = c.connect(unique_id())
    if alias == "max+1":
        alias = ack.props.get(P_TOPIC_ALIAS_MAXIMUM, 0) + 1
    c.send(publish_packet("ta/bad", b"x", qos=1, pid=1, version=5, props={P_TOPIC_ALIAS: alias}))
    got = c.wait_closed(3)
    assert got and got[-1].type == DISCONNECT, got
    # [MQTT-3.3.2-9] above the maximum: 0x94. Alias 0 is forbidden by [MQTT-3.3.2-8] without a
    # named reason code: Topic Alias invalid, Protocol Error or Malformed Packet are all fine.
    allowed = (0x94,) if alias else (0x94, 0x82, 0x81)
    assert got[-1].rc in allowed, f"reason 0x{got[-1].rc:02x}"
    assert_healthy(broker, 5)


def test_topic_alias_unknown_alias_is_protocol_error(broker):
    c = RawClient(broker, 5)
    c.connect(unique_id())
    c.send(publish_packet("", b"x", qos=1, pid=1, version=5, props={P_TOPIC_ALIAS: 1}))
    got = c.wait_closed(3)
    assert got and got[-1].type == DISCONNECT and got[-1].rc == 0x82, got
    assert_healthy(broker, 5)


def test_topic_alias_with_configured_maximum(broker_factory):
    b = broker_factory(topic_alias_maximum=2)
    c = RawClient(b, 5)
    assert c.connect(unique_id()).props.get(P_TOPIC_ALIAS_MAXIMUM) == 2
    c.publish("tam/t", b"1", qos=1, props={P_TOPIC_ALIAS: 2})
    c.send(publish_packet("tam/t", b"x", qos=1, pid=9, version=5, props={P_TOPIC_ALIAS: 3}))
    got = c.wait_closed(3)
    assert got and got[-1].type == DISCONNECT and got[-1].rc == 0x94, got


# -- receive maximum --------------------------------------------------------------------------
def test_receive_maximum_advertised(broker_factory):
    b = broker_factory(receive_maximum=5)
    c = RawClient(b, 5)
    assert c.connect(unique_id()).props.get(P_RECEIVE_MAXIMUM) == 5


@pytest.mark.mosquitto_deviates("4.9 Flow Control: more than Receive Maximum unacknowledged "
                                "QoS>0 PUBLISH packets -> DISCONNECT 0x93")
def test_receive_maximum_exceeded_disconnect_0x93(broker_factory):
    b = broker_factory(receive_maximum=5)
    c = RawClient(b, 5)
    c.connect(unique_id())
    for pid in range(1, 6):  # 5 QoS 2 publishes without PUBREL: the window is full
        c.send(publish_packet("rm/t", b"x", qos=2, pid=pid, version=5))
    for _ in range(5):
        assert c.expect(PUBREC).rc < 0x80
    c.try_send(publish_packet("rm/t", b"x", qos=2, pid=6, version=5))
    got = c.wait_closed(3)
    assert got and got[-1].type == DISCONNECT and got[-1].rc == 0x93, got
    assert_healthy(b, 5)


def test_receive_maximum_within_window_ok(broker_factory):
    b = broker_factory(receive_maximum=5)
    sub = Client(b, version=5)
    sub.subscribe("rmok/t", 2)
    c = RawClient(b, 5)
    c.connect(unique_id())
    for round_ in range(3):  # fill the window, release it, repeat
        for pid in range(1, 6):
            c.send(publish_packet("rmok/t", b"%d" % (round_ * 5 + pid), qos=2, pid=pid, version=5))
        for pid in range(1, 6):
            assert c.expect(PUBREC).pid == pid
        from mqtt_helpers import PUBCOMP, PUBREL, ack_packet
        for pid in range(1, 6):
            c.send(ack_packet(PUBREL, pid, 5))
            assert c.expect(PUBCOMP).pid == pid
    assert len(sub.take(15)) == 15


def test_broker_respects_client_receive_maximum(broker):
    # [MQTT-3.3.4-7] the server sends no more than the client's Receive Maximum unacked
    c = RawClient(broker, 5)
    c.connect(unique_id(), props={P_RECEIVE_MAXIMUM: 2})
    c.subscribe("crm/t", 1)
    pub = Client(broker, version=5)
    for i in range(6):
        pub.publish("crm/t", str(i).encode(), qos=1)
    first = [c.recv_publish(ack=False) for _ in range(2)]
    # the other four reached the broker (acknowledged to the publisher); none is sent while
    # the window is full
    c.expect_only_pingresp()
    from mqtt_helpers import ack_packet
    for p in first:
        c.send(ack_packet(PUBACK, p.pid, 5))
    rest = [c.recv_publish() for _ in range(4)]
    assert [int(p.payload) for p in first + rest] == list(range(6))


# -- maximum packet size ----------------------------------------------------------------------
def test_oversized_incoming_v5_disconnect_0x95(broker_factory):
    b = broker_factory(max_packet_size=1000)
    c = RawClient(b, 5)
    assert c.connect(unique_id()).props.get(P_MAXIMUM_PACKET_SIZE) == 1000
    c.publish("mps/ok", b"x" * 900, qos=1)  # below the limit: fine
    c.try_send(publish_packet("mps/big", b"x" * 2000, qos=1, pid=2, version=5))
    got = c.wait_closed(3)
    assert got and got[-1].type == DISCONNECT and got[-1].rc == 0x95, got  # [MQTT-3.2.2-15]
    assert_healthy(b, 5)


def test_oversized_incoming_v311_closed(broker_factory):
    b = broker_factory(max_packet_size=1000)
    sub = Client(b, version=4)
    sub.subscribe("mps311/#", 1)
    c = RawClient(b, 4)
    c.connect(unique_id())
    c.try_send(publish_packet("mps311/big", b"x" * 2000, qos=1, pid=2, version=4))
    got = c.wait_closed(3)
    assert not got, got
    sub.expect_only_marker(sub, "mps311/marker")
    assert_healthy(b, 4)


def test_client_maximum_packet_size_respected(broker):
    # [MQTT-3.1.2-25] the server does not send packets larger than the client's maximum;
    # such a message is discarded for that client only
    small = RawClient(broker, 5)
    small.connect(unique_id(), props={P_MAXIMUM_PACKET_SIZE: 200})
    small.subscribe("cmps/#", 1)
    big = Client(broker, version=5)
    big.subscribe("cmps/#", 1)
    pub = Client(broker, version=5)
    pub.publish("cmps/t", b"L" * 500, qos=1)
    pub.publish("cmps/t", b"s" * 20, qos=1)
    p = small.recv_publish()
    assert p.payload == b"s" * 20, f"got {len(p.payload)} bytes"
    small.expect_only_marker(pub, "cmps/t")
    assert [len(m.payload) for m in big.take(2)] == [500, 20]


# -- property pass-through --------------------------------------------------------------------
PASS_PROPS = [
    (P_PAYLOAD_FORMAT, 1),
    (P_CONTENT_TYPE, "application/json; charset=utf-8"),
    (P_RESPONSE_TOPIC, "reply/to/me"),
    (P_CORRELATION_DATA, b"\x00\x01corr\xff"),
    (P_USER_PROPERTY, ("key", "v1")),
    (P_USER_PROPERTY, ("key", "v2")),  # duplicates allowed and kept in order [MQTT-3.3.2-18]
    (P_USER_PROPERTY, ("other", "ünïcode")),
]


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_properties_passed_through(broker, qos):
    sub = RawClient(broker, 5)
    sub.connect(unique_id())
    sub.subscribe("pp/t", qos)
    pub = RawClient(broker, 5)
    pub.connect(unique_id())
    pub.publish("pp/t", '{"a": 1}'.encode(), qos=qos, props=PASS_PROPS)
    p = sub.recv_publish()
    assert p.payload == b'{"a": 1}'
    assert p.props.get(P_PAYLOAD_FORMAT) == 1
    assert p.props.get(P_CONTENT_TYPE) == "application/json; charset=utf-8"
    assert p.props.get(P_RESPONSE_TOPIC) == "reply/to/me"
    assert p.props.get(P_CORRELATION_DATA) == b"\x00\x01corr\xff"
    assert p.props.all(P_USER_PROPERTY) == [("key", "v1"), ("key", "v2"), ("other", "ünïcode")]


def test_properties_passed_through_paho_retained_and_offline(broker):
    pprops = props(PacketTypes.PUBLISH, ContentType="text/plain", ResponseTopic="r/t",
                   CorrelationData=b"42", PayloadFormatIndicator=1,
                   UserProperty=[("a", "b"), ("c", "d")])
    cid = unique_id("ppo")
    sub = Client(broker, client_id=cid, version=5, clean=False, session_expiry=60)
    sub.subscribe("ppo/t", 1)
    sub.disconnect()
    pub = Client(broker, version=5)
    pub.publish("ppo/t", b"hello", qos=1, retain=True, properties=pprops)
    sub = Client(broker, client_id=cid, version=5, clean=False, session_expiry=60)
    retained = Client(broker, version=5)
    retained.subscribe("ppo/t", 1)
    for m in (sub.take(1)[0], retained.take(1)[0]):
        p = m.properties
        assert p.ContentType == "text/plain"
        assert p.ResponseTopic == "r/t"
        assert p.CorrelationData == b"42"
        assert p.PayloadFormatIndicator == 1
        assert p.UserProperty == [("a", "b"), ("c", "d")]


def test_v5_properties_dropped_for_v311_subscriber(broker):
    sub = RawClient(broker, 4)
    sub.connect(unique_id())
    sub.subscribe("pv3/t", 1)
    pub = RawClient(broker, 5)
    pub.connect(unique_id())
    pub.publish("pv3/t", b"plain", qos=1, props=PASS_PROPS)
    p = sub.recv_publish()
    assert p.topic == "pv3/t" and p.payload == b"plain"


def test_puback_no_matching_subscribers(broker):
    # 0x10 No matching subscribers is allowed; 0x00 is too (the server need not say)
    c = RawClient(broker, 5)
    c.connect(unique_id())
    c.send(publish_packet("nobody/listens", b"x", qos=1, pid=3, version=5))
    ack = c.expect(PUBACK)
    assert ack.pid == 3 and ack.rc in (0x00, 0x10)
    c.send(publish_packet("nobody/listens", b"x", qos=2, pid=4, version=5))
    rec = c.expect(PUBREC)
    assert rec.pid == 4 and rec.rc in (0x00, 0x10)
