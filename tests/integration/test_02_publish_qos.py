"""QoS 0/1/2 flows in both directions, QoS downgrade, persistent sessions with offline
queues and resending unacknowledged messages with DUP on resume."""
import pytest

from mqtt_helpers import (PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL, P_SESSION_EXPIRY, Client,
                          RawClient, ack_packet, publish_packet, unique_id)


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_publish_and_deliver_each_qos(broker, version, qos):
    sub = Client(broker, version=version)
    sub.subscribe("q/t", qos)
    pub = Client(broker, version=version)
    for i in range(5):
        pub.publish("q/t", f"m{i}".encode(), qos=qos)
    msgs = sub.take(5)
    assert [m.payload for m in msgs] == [f"m{i}".encode() for i in range(5)]
    assert all(m.qos == qos and m.topic == "q/t" for m in msgs)
    sub.expect_only_marker(pub, "q/t", qos=qos)  # no duplicates


@pytest.mark.parametrize("version", [4, 5])
def test_inbound_qos1_puback(broker, version):
    c = RawClient(broker, version)
    c.connect(unique_id())
    c.send(publish_packet("in/q1", b"x", qos=1, pid=4711, version=version))
    ack = c.expect(PUBACK)
    assert ack.pid == 4711 and ack.flags == 0
    if version == 5:
        assert ack.rc in (0x00, 0x10)  # success / no matching subscribers


@pytest.mark.parametrize("version", [4, 5])
def test_inbound_qos2_flow_exactly_once(broker, version):
    sub = Client(broker, version=version)
    sub.subscribe("in/q2", 2)
    c = RawClient(broker, version)
    c.connect(unique_id())
    c.send(publish_packet("in/q2", b"once", qos=2, pid=7, version=version))
    rec = c.expect(PUBREC)
    assert rec.pid == 7 and rec.flags == 0
    # a retransmission with DUP before PUBREL must not be delivered twice [MQTT-4.3.3]
    c.send(publish_packet("in/q2", b"once", qos=2, pid=7, dup=True, version=version))
    rec2 = c.expect(PUBREC)
    assert rec2.pid == 7
    c.send(ack_packet(PUBREL, 7, version))
    comp = c.expect(PUBCOMP)
    assert comp.pid == 7 and comp.flags == 0
    msgs = sub.take(1)
    assert msgs[0].payload == b"once"
    sub.expect_only_marker(c, "in/q2", qos=2)
    # the packet id is free again: a new message with the same id is a new message
    c.publish("in/q2", b"again", qos=2, pid=7)
    assert sub.take(1)[0].payload == b"again"


@pytest.mark.parametrize("version", [4, 5])
def test_outbound_qos1_and_qos2_flows(broker, version):
    c = RawClient(broker, version)
    c.connect(unique_id())
    c.subscribe("out/#", 2)
    pub = Client(broker, version=version)
    pub.publish("out/1", b"one", qos=1)
    p = c.expect(PUBLISH)
    assert p.qos == 1 and p.pid and not p.dup and p.payload == b"one"
    c.send(ack_packet(PUBACK, p.pid, version))
    pub.publish("out/2", b"two", qos=2)
    p = c.expect(PUBLISH)
    assert p.qos == 2 and p.pid and not p.dup and p.payload == b"two"
    c.send(ack_packet(PUBREC, p.pid, version))
    rel = c.expect(PUBREL)
    assert rel.pid == p.pid and rel.flags == 0x02  # [MQTT-3.6.1-1]
    c.send(ack_packet(PUBCOMP, p.pid, version))
    c.expect_only_marker(pub, "out/end")  # no resend, no second PUBREL


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("sub_qos,pub_qos", [(0, 1), (0, 2), (1, 2), (2, 1), (1, 0), (2, 0)])
def test_qos_downgrade(broker, version, sub_qos, pub_qos):
    # delivered QoS = min(publish QoS, subscription QoS) [MQTT-3.8.4-8 / 3.3.1.2]
    sub = RawClient(broker, version)
    sub.connect(unique_id())
    sub.subscribe("dg/t", sub_qos)
    pub = Client(broker, version=version)
    pub.publish("dg/t", b"d", qos=pub_qos)
    p = sub.recv_publish()
    assert p.qos == min(sub_qos, pub_qos)


def test_subscribe_granted_qos(broker):
    c = RawClient(broker, 4)
    c.connect(unique_id())
    assert c.subscribe([("g/0", 0), ("g/1", 1), ("g/2", 2)]) == [0, 1, 2]


def _persistent(broker, version, cid, **kw):
    c = Client(broker, client_id=cid, version=version, clean=False,
               session_expiry=300 if version == 5 else None, **kw)
    return c


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("qos", [1, 2])
def test_offline_messages_delivered_in_order(broker, version, qos):
    cid = unique_id("persist")
    sub = _persistent(broker, version, cid)
    sub.subscribe("off/t", qos)
    sub.disconnect()
    pub = Client(broker, version=version)
    for i in range(20):
        pub.publish("off/t", f"{i}".encode(), qos=qos)
    sub = _persistent(broker, version, cid)
    assert sub.session_present
    msgs = sub.take(20)
    assert [m.payload for m in msgs] == [f"{i}".encode() for i in range(20)]
    assert all(m.qos == qos for m in msgs)
    sub.expect_only_marker(pub, "off/t", qos=qos)


@pytest.mark.parametrize("version", [4, 5])
def test_clean_session_gets_no_offline_messages(broker, version):
    cid = unique_id("clean")
    sub = Client(broker, client_id=cid, version=version, clean=True)
    sub.subscribe("cl/t", 1)
    sub.disconnect()
    pub = Client(broker, version=version)
    pub.publish("cl/t", b"lost", qos=1)
    sub = Client(broker, client_id=cid, version=version, clean=True)
    assert not sub.session_present
    sub.subscribe("cl/marker", 1)  # a route for the marker only
    sub.expect_only_marker(pub, "cl/marker")


def _raw_persistent(broker, version, cid):
    c = RawClient(broker, version)
    props = {P_SESSION_EXPIRY: 300} if version == 5 else None
    ack = c.connect(cid, version=version, clean=False, props=props)
    return c, ack


@pytest.mark.parametrize("version", [4, 5])
def test_unacked_qos1_resent_with_dup(broker, version):
    cid = unique_id("dup1")
    c, _ = _raw_persistent(broker, version, cid)
    c.subscribe("dup/t", 1)
    pub = Client(broker, version=version)
    pub.publish("dup/t", b"first", qos=1)
    pub.publish("dup/t", b"second", qos=1)
    p1 = c.expect(PUBLISH)
    p2 = c.expect(PUBLISH)
    assert not p1.dup and not p2.dup
    c.close()  # no PUBACK
    c, ack = _raw_persistent(broker, version, cid)
    assert ack.session_present
    r1 = c.expect(PUBLISH)
    r2 = c.expect(PUBLISH)
    # [MQTT-4.4.0-1] resent with DUP=1 and the same packet identifiers, in order
    assert (r1.payload, r2.payload) == (b"first", b"second")
    assert r1.dup and r2.dup, (r1, r2)
    assert (r1.pid, r2.pid) == (p1.pid, p2.pid)
    assert r1.qos == r2.qos == 1
    c.send(ack_packet(PUBACK, r1.pid, version))
    c.send(ack_packet(PUBACK, r2.pid, version))
    c.expect_only_marker(pub, "dup/t")
    c.close()
    c, ack = _raw_persistent(broker, version, cid)
    c.expect_only_marker(pub, "dup/t")  # acknowledged: not sent again


@pytest.mark.parametrize("version", [4, 5])
def test_unacked_qos2_resent_with_dup_then_pubrel(broker, version):
    cid = unique_id("dup2")
    c, _ = _raw_persistent(broker, version, cid)
    c.subscribe("dup2/t", 2)
    pub = Client(broker, version=version)
    pub.publish("dup2/t", b"q2", qos=2)
    p = c.expect(PUBLISH)
    assert p.qos == 2 and not p.dup
    c.close()  # no PUBREC
    c, ack = _raw_persistent(broker, version, cid)
    assert ack.session_present
    r = c.expect(PUBLISH)
    assert r.dup and r.pid == p.pid and r.payload == b"q2"
    c.send(ack_packet(PUBREC, r.pid, version))
    rel = c.expect(PUBREL)
    assert rel.pid == r.pid
    c.close()  # no PUBCOMP: on resume the PUBREL is resent, not the PUBLISH [MQTT-4.4.0-1]
    c, ack = _raw_persistent(broker, version, cid)
    rel2 = c.expect(PUBREL)
    assert rel2.pid == r.pid and rel2.flags == 2
    c.send(ack_packet(PUBCOMP, r.pid, version))
    c.expect_only_marker(pub, "dup2/t", qos=2)


@pytest.mark.parametrize("version", [4, 5])
def test_inbound_qos2_pubrel_after_reconnect(broker, version):
    """The broker keeps the inbound QoS 2 state across a reconnect of a persistent session."""
    sub = Client(broker, version=version)
    sub.subscribe("iq2/t", 2)
    cid = unique_id("iq2")
    c, _ = _raw_persistent(broker, version, cid)
    c.send(publish_packet("iq2/t", b"x", qos=2, pid=99, version=version))
    assert c.expect(PUBREC).pid == 99
    c.close()
    c, ack = _raw_persistent(broker, version, cid)
    assert ack.session_present
    c.send(ack_packet(PUBREL, 99, version))
    comp = c.expect(PUBCOMP)
    assert comp.pid == 99
    if version == 5:
        assert comp.rc == 0
    msgs = sub.take(1)
    assert msgs[0].payload == b"x"
    sub.expect_only_marker(c, "iq2/t", qos=2)


def test_qos1_many_inflight(broker):
    """More QoS 1 messages than any inflight window: all arrive, in order."""
    sub = Client(broker, version=5)
    sub.subscribe("many/t", 1)
    pub = Client(broker, version=5)
    infos = [pub.publish("many/t", str(i).encode(), qos=1, wait=False) for i in range(300)]
    for info in infos:
        info.wait_for_publish(5)
    msgs = sub.take(300, timeout=10)
    assert [int(m.payload) for m in msgs] == list(range(300))


def test_unsubscribe_stops_delivery(broker):
    c = Client(broker, version=5)
    c.subscribe("us/t", 1)
    c.publish("us/t", b"1", qos=1)
    c.take(1)
    c.unsubscribe("us/t")
    c.subscribe("us/marker", 1)  # a route for the marker only
    c.publish("us/t", b"2", qos=1)
    c.expect_only_marker(c, "us/marker")


@pytest.mark.mosquitto_deviates("[MQTT-3.3.5-1] overlapping subscriptions: maximum QoS of all matches")
def test_overlapping_subscriptions_max_qos(broker):
    # [MQTT-3.3.5-1]: delivered respecting the maximum QoS of all matching subscriptions
    # (one copy, or one per matching subscription)
    c = RawClient(broker, 4)
    c.connect(unique_id())
    c.subscribe([("ov/#", 2), ("ov/+", 1)])
    p = Client(broker, version=4)
    p.publish("ov/x", b"z", qos=2)
    first = c.recv_publish()
    assert first.payload == b"z"
    # ov/m/x matches ov/# only: one marker, after every copy of "z"
    seen = [first] + c.take_until_marker(p, "ov/m/x", qos=2)
    assert all(s.type == PUBLISH and s.payload == b"z" for s in seen), seen
    assert max(s.qos for s in seen) == 2
    assert len(seen) <= 2
