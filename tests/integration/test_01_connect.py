"""CONNECT / CONNACK: protocol versions, ordering, client identifiers, session present,
takeover, CONNACK properties."""
import pytest

from mqtt_helpers import (CONNACK, DISCONNECT, P_ASSIGNED_CLIENT_ID, P_MAXIMUM_PACKET_SIZE,
                          P_RECEIVE_MAXIMUM, P_SERVER_KEEP_ALIVE, P_SESSION_EXPIRY,
                          P_TOPIC_ALIAS_MAXIMUM, Client, RawClient, assert_healthy,
                          connect_packet, unique_id)


@pytest.mark.parametrize("version", [3, 4, 5])
def test_protocol_versions_accepted(broker, version):
    c = RawClient(broker, version)
    ack = c.connect(unique_id(), version=version)
    assert ack.rc == 0 and not ack.session_present
    # the connection is usable: subscribe, publish to itself
    assert c.subscribe("v/x", 0) == [0]
    c.publish("v/x", b"hi")
    p = c.recv_publish()
    assert (p.topic, p.payload) == ("v/x", b"hi")


@pytest.mark.parametrize("version", [3, 4, 5])
def test_paho_connect_versions(broker, version):
    c = Client(broker, version=version)
    c.subscribe("pv/t", 1)
    c.publish("pv/t", b"x", qos=1)
    assert c.take(1)[0].payload == b"x"


@pytest.mark.parametrize("version", [4, 5])
def test_second_connect_closes_connection(broker, version):
    # [MQTT-3.1.0-2] a second CONNECT is a protocol violation: the connection is closed
    c = RawClient(broker, version)
    c.connect(unique_id(), version=version)
    c.send(connect_packet(unique_id(), version=version))
    got = c.wait_closed(3)
    assert all(p.type == DISCONNECT for p in got), got
    if version == 5 and got:
        assert got[0].rc >= 0x80
    assert_healthy(broker)


def test_bad_protocol_level_v311(broker):
    # [MQTT-3.1.2-2] unsupported level: CONNACK 0x01 then close
    c = RawClient(broker, 4)
    c.send(connect_packet(unique_id(), version=4, proto_level=7))
    got = c.wait_closed(3)
    assert got and got[0].type == CONNACK, f"expected a CONNACK before the close, got {got}"
    assert got[0].body[1] in (0x01, 0x84), got[0].body
    assert_healthy(broker)


def test_bad_protocol_name_v311(broker):
    # [MQTT-3.1.2-1] wrong protocol name: the server MAY disconnect; it must not accept
    c = RawClient(broker, 4)
    c.send(connect_packet(unique_id(), version=4, proto_name="MQTX"))
    got = c.wait_closed(3)
    for p in got:
        if p.type == CONNACK:
            assert p.body[1] != 0, "CONNECT with a bad protocol name was accepted"
    assert_healthy(broker)


def test_bad_protocol_name_v5(broker):
    # MQTT 5.0 3.1.2.1: a server MAY send CONNACK 0x84 and MUST close the connection
    c = RawClient(broker, 5)
    c.send(connect_packet(unique_id(), version=5, proto_name="MQTX"))
    got = c.wait_closed(3)
    connacks = [p for p in got if p.type == CONNACK]
    if broker.is_musqratt:
        assert connacks, "MusQraTT sends CONNACK 0x84 for a bad protocol name"
    for p in connacks:
        assert p.rc == 0x84, f"CONNACK rc 0x{p.rc:02x}, expected 0x84"
    assert_healthy(broker)


def test_bad_protocol_level_v5_style(broker):
    # name MQTT with level 6: unsupported, CONNACK 0x01 (3.1.1 format) or 0x84, then close
    c = RawClient(broker, 5)
    c.send(connect_packet(unique_id(), version=5, proto_level=6))
    got = c.wait_closed(3)
    assert got and got[0].type == CONNACK, got
    assert got[0].body[1] in (0x01, 0x84)
    assert_healthy(broker)


def test_empty_client_id_clean_session_v311(broker):
    c = RawClient(broker, 4)
    ack = c.connect("", version=4, clean=True)
    assert ack.rc == 0 and not ack.session_present


def test_empty_client_id_persistent_rejected_v311(broker):
    # [MQTT-3.1.3-8] empty client id with CleanSession=0: CONNACK 0x02 then close
    c = RawClient(broker, 4)
    c.send(connect_packet("", version=4, clean=False))
    got = c.wait_closed(3)
    assert got and got[0].type == CONNACK and got[0].rc == 0x02, got
    assert_healthy(broker)


def test_empty_client_id_v5_assigned(broker):
    # MQTT 5.0 3.2.2.3.7: the server assigns an identifier and returns it in CONNACK
    c = RawClient(broker, 5)
    ack = c.connect("", version=5)
    assigned = ack.props.get(P_ASSIGNED_CLIENT_ID)
    assert assigned, f"no Assigned Client Identifier in CONNACK: {ack.props}"
    c2 = RawClient(broker, 5)
    ack2 = c2.connect("", version=5)
    assert ack2.props.get(P_ASSIGNED_CLIENT_ID) not in (None, assigned), "identifiers must be unique"


def test_session_present_v311(broker):
    cid = unique_id()
    c = RawClient(broker, 4)
    assert not c.connect(cid, clean=False).session_present  # [MQTT-3.2.2-3] no session yet
    c.subscribe("sp/t", 1)
    c.disconnect()
    c = RawClient(broker, 4)
    assert c.connect(cid, clean=False).session_present  # [MQTT-3.2.2-2]
    c.disconnect()
    c = RawClient(broker, 4)
    assert not c.connect(cid, clean=True).session_present  # [MQTT-3.2.2-1]
    c.disconnect()
    c = RawClient(broker, 4)
    assert not c.connect(cid, clean=False).session_present  # clean session discarded it


def test_taking_over_a_clean_session_does_not_resume_it(broker):
    """A 3.1.1 clean session lasts as long as its connection [MQTT-3.2.2-1, MQTT-3.1.2-6]: a
    client that takes the connection over asking to resume gets a new session, whether the old
    connection is still open or its DISCONNECT is still on the way. (The second case is a race:
    the rounds below give it chances, they cannot force it; test_session_present_v311 lost it
    once in CI before Broker::connect stopped resuming sessions whose expiry is 0.)"""
    cid = unique_id()
    old = RawClient(broker, 4)
    assert not old.connect(cid, clean=True).session_present
    old.subscribe("tc/t", 1)
    new = RawClient(broker, 4)
    assert not new.connect(cid, clean=False).session_present
    old.wait_closed()
    new.disconnect()
    for _ in range(20):  # the DISCONNECT and the next CONNECT racing, on two workers
        c = RawClient(broker, 4)
        c.connect(cid, clean=True)
        c.disconnect()
        c = RawClient(broker, 4)
        assert not c.connect(cid, clean=False).session_present
    c.disconnect()


def test_session_present_v5(broker):
    cid = unique_id()
    c = RawClient(broker, 5)
    assert not c.connect(cid, clean=False, props={P_SESSION_EXPIRY: 60}).session_present
    c.subscribe("sp5/t", 1)
    c.disconnect()
    c = RawClient(broker, 5)
    assert c.connect(cid, clean=False, props={P_SESSION_EXPIRY: 60}).session_present
    c.disconnect()
    c = RawClient(broker, 5)
    assert not c.connect(cid, clean=True).session_present


def test_session_expiry_zero_v5_means_no_session(broker):
    cid = unique_id()
    c = RawClient(broker, 5)
    c.connect(cid, clean=False)  # no Session Expiry property = 0
    c.subscribe("sp0/t", 1)
    c.disconnect()
    c = RawClient(broker, 5)
    assert not c.connect(cid, clean=False).session_present


def test_takeover_v311(broker):
    cid = unique_id()
    old = RawClient(broker, 4)
    old.connect(cid)
    new = RawClient(broker, 4)
    new.connect(cid)
    old.wait_closed(3)  # [MQTT-3.1.4-2]
    new.subscribe("to/t", 0)
    new.publish("to/t", b"still here")
    assert new.recv_publish().payload == b"still here"


@pytest.mark.mosquitto_deviates("[MQTT-3.1.4-3] DISCONNECT 0x8E to the existing client")
def test_takeover_v5_disconnect_0x8e(broker):
    cid = unique_id()
    old = RawClient(broker, 5)
    old.connect(cid, version=5)
    new = RawClient(broker, 5)
    new.connect(cid, version=5)
    got = old.wait_closed(3)
    assert got and got[-1].type == DISCONNECT, f"old connection got no DISCONNECT: {got}"
    assert got[-1].rc == 0x8E, f"DISCONNECT reason 0x{got[-1].rc:02x}, expected 0x8E"


def test_takeover_keeps_persistent_session(broker):
    cid = unique_id()
    old = RawClient(broker, 5)
    old.connect(cid, clean=False, props={P_SESSION_EXPIRY: 60})
    old.subscribe("tk/t", 1)
    new = RawClient(broker, 5)
    ack = new.connect(cid, clean=False, props={P_SESSION_EXPIRY: 60})
    assert ack.session_present
    old.wait_closed(3)
    pub = RawClient(broker, 5)
    pub.connect(unique_id())
    pub.publish("tk/t", b"to new", qos=1)
    assert new.recv_publish().payload == b"to new"


@pytest.mark.musqratt_only
def test_connack_receive_maximum(broker_factory):
    b = broker_factory(receive_maximum=5)
    c = RawClient(b, 5)
    ack = c.connect(unique_id())
    assert ack.props.get(P_RECEIVE_MAXIMUM) == 5, ack.props


def test_connack_maximum_packet_size(broker_factory):
    b = broker_factory(max_packet_size=2000)
    c = RawClient(b, 5)
    ack = c.connect(unique_id())
    assert ack.props.get(P_MAXIMUM_PACKET_SIZE) == 2000, ack.props


def test_connack_topic_alias_maximum(broker):
    c = RawClient(broker, 5)
    ack = c.connect(unique_id())
    assert ack.props.get(P_TOPIC_ALIAS_MAXIMUM, 0) > 0, f"topic aliases not offered: {ack.props}"


def test_connack_topic_alias_maximum_configured(broker_factory):
    b = broker_factory(topic_alias_maximum=3)
    c = RawClient(b, 5)
    ack = c.connect(unique_id())
    assert ack.props.get(P_TOPIC_ALIAS_MAXIMUM) == 3, ack.props


def test_connack_server_keep_alive(broker_factory):
    b = broker_factory(max_keepalive=30)
    c = RawClient(b, 5)
    ack = c.connect(unique_id(), keepalive=120)
    assert ack.props.get(P_SERVER_KEEP_ALIVE) == 30, ack.props
    c2 = RawClient(b, 5)
    ack2 = c2.connect(unique_id(), keepalive=20)
    assert ack2.props.get(P_SERVER_KEEP_ALIVE) in (None, 20), ack2.props


def test_connack_no_server_keep_alive_by_default(broker):
    c = RawClient(broker, 5)
    ack = c.connect(unique_id(), keepalive=60)
    assert ack.props.get(P_SERVER_KEEP_ALIVE) in (None, 60), ack.props


@pytest.mark.musqratt_only
def test_connack_session_expiry_capped(broker_factory):
    b = broker_factory(max_session_expiry=10)
    c = RawClient(b, 5)
    ack = c.connect(unique_id(), clean=False, props={P_SESSION_EXPIRY: 3600})
    assert ack.props.get(P_SESSION_EXPIRY) == 10, ack.props
    c2 = RawClient(b, 5)
    ack2 = c2.connect(unique_id(), clean=False, props={P_SESSION_EXPIRY: 5})
    assert ack2.props.get(P_SESSION_EXPIRY) in (None, 5), ack2.props


def test_paho_v5_connack_properties(broker):
    c = Client(broker, version=5)
    props = c.connack_props
    assert props is not None
    # 3.2.2.3: absent Receive Maximum means 65535; if present it must be > 0
    assert getattr(props, "ReceiveMaximum", 65535) > 0
