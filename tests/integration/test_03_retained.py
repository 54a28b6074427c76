"""Retained messages: stored, sent on subscribe with RETAIN set, replaced and cleared by an
empty payload; MQTT 5.0 Retain Handling 0/1/2 and Retain As Published."""
import pytest

from mqtt_helpers import Client, RawClient, unique_id


@pytest.mark.parametrize("version", [4, 5])
def test_retained_sent_on_subscribe(broker, version):
    pub = Client(broker, version=version)
    pub.publish("ret/a", b"stored", qos=1, retain=True)
    sub = Client(broker, version=version)
    sub.subscribe("ret/a", 1)
    m = sub.take(1)[0]
    assert (m.topic, m.payload, m.retain, m.qos) == ("ret/a", b"stored", True, 1)
    # a live message to an existing subscriber has RETAIN=0 [MQTT-3.3.1-9]
    pub.publish("ret/a", b"live", qos=1, retain=True)
    m = sub.take(1)[0]
    assert m.payload == b"live" and not m.retain


def test_retained_wildcard_and_qos_downgrade(broker):
    pub = Client(broker, version=4)
    for i in range(3):
        pub.publish(f"rw/{i}", f"v{i}".encode(), qos=2, retain=True)
    pub.publish("other/x", b"no", qos=1, retain=True)
    sub = RawClient(broker, 4)
    sub.connect(unique_id())
    sub.subscribe("rw/+", 1)
    got = {}
    for _ in range(3):
        p = sub.recv_publish()
        assert p.retain and p.qos == 1
        got[p.topic] = p.payload
    assert got == {f"rw/{i}": f"v{i}".encode() for i in range(3)}
    sub.expect_only_marker(pub, "rw/end")  # not other/x, no second copy


@pytest.mark.parametrize("version", [4, 5])
def test_retained_replaced_and_cleared(broker, version):
    pub = Client(broker, version=version)
    pub.publish("rc/t", b"old", qos=1, retain=True)
    pub.publish("rc/t", b"new", qos=1, retain=True)
    s1 = Client(broker, version=version)
    s1.subscribe("rc/t", 1)
    assert s1.take(1)[0].payload == b"new"
    s1.expect_only_marker(pub, "rc/t")  # only the newest was kept
    # an empty retained payload clears the topic [MQTT-3.3.1-10]; it is still forwarded
    pub.publish("rc/t", b"", qos=1, retain=True)
    m = s1.take(1)[0]
    assert m.payload == b""
    s2 = Client(broker, version=version)
    s2.subscribe("rc/t", 1)
    s2.expect_only_marker(pub, "rc/t")


def test_non_retained_publish_does_not_replace(broker):
    pub = Client(broker, version=4)
    pub.publish("nr/t", b"kept", qos=1, retain=True)
    pub.publish("nr/t", b"transient", qos=1, retain=False)
    sub = Client(broker, version=4)
    sub.subscribe("nr/t", 1)
    assert sub.take(1)[0].payload == b"kept"


def test_retained_qos0(broker):
    pub = Client(broker, version=4)
    pub.publish("r0/t", b"zero", qos=0, retain=True)
    # make sure the QoS 0 publish was processed before subscribing
    pub.publish("r0/sync", b"", qos=1)
    sub = Client(broker, version=4)
    sub.subscribe("r0/#", 0)
    m = sub.take(1)[0]
    assert (m.topic, m.payload, m.retain) == ("r0/t", b"zero", True)


def test_retain_handling_0_send_on_every_subscribe(broker):
    pub = Client(broker, version=5)
    pub.publish("rh0/t", b"r", qos=1, retain=True)
    sub = Client(broker, version=5)
    sub.subscribe("rh0/t", 1, retain_handling=0)
    assert sub.take(1)[0].retain
    sub.subscribe("rh0/t", 1, retain_handling=0)  # re-subscribe: sent again
    assert sub.take(1)[0].payload == b"r"


def test_retain_handling_1_only_new_subscription(broker):
    pub = Client(broker, version=5)
    pub.publish("rh1/t", b"r", qos=1, retain=True)
    sub = Client(broker, version=5)
    sub.subscribe("rh1/t", 1, retain_handling=1)
    assert sub.take(1)[0].retain
    sub.subscribe("rh1/t", 1, retain_handling=1)  # subscription exists: not sent
    sub.expect_only_marker(pub, "rh1/t")


def test_retain_handling_2_never(broker):
    pub = Client(broker, version=5)
    pub.publish("rh2/t", b"r", qos=1, retain=True)
    sub = Client(broker, version=5)
    sub.subscribe("rh2/t", 1, retain_handling=2)
    sub.expect_only_marker(pub, "rh2/t")
    pub.publish("rh2/t", b"live", qos=1)
    assert sub.take(1)[0].payload == b"live"


def test_retain_as_published(broker):
    rap = Client(broker, version=5)
    rap.subscribe("rap/t", 1, retain_as_published=True)
    plain = Client(broker, version=5)
    plain.subscribe("rap/t", 1, retain_as_published=False)
    pub = Client(broker, version=5)
    pub.publish("rap/t", b"with-retain", qos=1, retain=True)
    pub.publish("rap/t", b"without", qos=1, retain=False)
    a = rap.take(2)
    b = plain.take(2)
    assert [(m.payload, m.retain) for m in a] == [(b"with-retain", True), (b"without", False)]
    assert [(m.payload, m.retain) for m in b] == [(b"with-retain", False), (b"without", False)]


def test_retained_survives_publisher_disconnect(broker):
    pub = Client(broker, version=5)
    pub.publish("rs/t", b"persist", qos=2, retain=True)
    pub.disconnect()
    sub = Client(broker, version=5)
    sub.subscribe("rs/#", 2)
    m = sub.take(1)[0]
    assert m.payload == b"persist" and m.retain and m.qos == 2
