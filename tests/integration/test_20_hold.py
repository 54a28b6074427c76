"""MusQraTT's hold: messages for topics nobody subscribes to wait for the first subscriber."""
import time

import pytest

from mqtt_helpers import Client, PacketTypes, RawClient, props

pytestmark = pytest.mark.musqratt_only


def _hold_broker(broker_factory, *extra):
    return broker_factory(extra_args=["--hold-unsubscribed", "q/#", "--hold-unsubscribed", "sensors/#", *extra])


@pytest.mark.parametrize("version", [4, 5])
def test_held_messages_go_to_first_subscriber_in_order(broker_factory, version):
    b = _hold_broker(broker_factory)
    pub = Client(b, version=version)
    for i in range(20):
        pub.publish("q/jobs", f"job-{i}".encode(), qos=1)
    first = Client(b, version=version)
    first.subscribe("q/jobs", 1)
    got = first.take(20)
    assert [m.payload.decode() for m in got] == [f"job-{i}" for i in range(20)]
    assert all(m.qos == 1 for m in got)
    # Work-queue: the hold is empty now; a second subscriber gets nothing held.
    second = Client(b, version=version)
    second.subscribe("q/#", 1)
    second.expect_only_marker(pub, "q/marker")
    # Newer messages flow normally to both.
    pub.publish("q/jobs", b"live", qos=1)
    assert first.take(1)[0].payload == b"live"
    assert second.take(1)[0].payload == b"live"


def test_topics_outside_the_hold_filters_are_not_held(broker_factory):
    b = _hold_broker(broker_factory)
    pub = Client(b)
    pub.publish("other/x", b"dropped", qos=1)
    sub = Client(b)
    sub.subscribe("other/#", 1)
    sub.expect_only_marker(pub, "other/marker")


def test_held_messages_come_before_newer_ones(broker_factory):
    b = _hold_broker(broker_factory)
    pub = Client(b)
    for i in range(50):
        pub.publish("sensors/t", f"old-{i}".encode(), qos=1)
    sub = Client(b)
    sub.subscribe("sensors/+", 1)
    for i in range(50):
        pub.publish("sensors/t", f"new-{i}".encode(), qos=1)
    got = [m.payload.decode() for m in sub.take(100)]
    assert got == [f"old-{i}" for i in range(50)] + [f"new-{i}" for i in range(50)]


def test_held_messages_keep_qos_retain_and_properties(broker_factory):
    b = _hold_broker(broker_factory)
    pub = Client(b)
    p = props(PacketTypes.PUBLISH, ContentType="text/plain", UserProperty=[("k", "v")])
    pub.publish("q/a", b"two", qos=2, properties=p)
    pub.publish("q/b", b"ret", qos=1, retain=True)
    sub = Client(b)
    sub.subscribe("q/#", 2, retain_as_published=True)
    msgs = sub.take(2)
    by_topic = {m.topic: m for m in msgs}
    assert by_topic["q/a"].qos == 2
    assert by_topic["q/a"].properties.ContentType == "text/plain"
    assert ("k", "v") in by_topic["q/a"].properties.UserProperty
    assert by_topic["q/b"].qos == 1 and by_topic["q/b"].retain
    # The retained copy was the held one: it is not delivered a second time.
    sub.expect_only_marker(pub, "q/marker")


def test_v311_publisher_v5_subscriber_and_back(broker_factory):
    b = _hold_broker(broker_factory)
    Client(b, version=4).publish("q/mixed", b"from-311", qos=1)
    Client(b, version=5).publish("q/mixed2", b"from-5", qos=1)
    s5 = Client(b, version=5)
    s5.subscribe("q/mixed", 1)
    assert s5.take(1)[0].payload == b"from-311"
    s311 = Client(b, version=4)
    s311.subscribe("q/mixed2", 1)
    assert s311.take(1)[0].payload == b"from-5"


def test_per_topic_limit_drops_oldest_and_counts(broker_factory):
    b = _hold_broker(broker_factory, "--hold-max-messages-per-topic", "3", "--sys-interval", "1")
    pub = Client(b)
    for i in range(5):
        pub.publish("q/limited", f"m{i}".encode(), qos=1)
    sub = Client(b)
    sub.subscribe("q/limited", 1)
    assert [m.payload for m in sub.take(3)] == [b"m2", b"m3", b"m4"]
    sub.expect_only_marker(pub, "q/limited")
    sys = Client(b)
    sys.subscribe("$SYS/broker/hold/dropped", 0)
    sys.wait_for(lambda m: m.payload == b"2", timeout=3, what="$SYS/broker/hold/dropped = 2")
    assert "dropped 1 oldest held message" in b.log()


def test_broker_wide_byte_limit_drops_oldest(broker_factory):
    b = _hold_broker(broker_factory, "--hold-max-bytes", "3000")
    pub = Client(b)
    for i in range(10):
        pub.publish(f"q/t{i}", bytes([65 + i]) * 1000, qos=1)
    sub = Client(b)
    sub.subscribe("q/#", 1)
    got = sub.take_until_marker(pub, "q/marker")  # after every held message
    assert 1 <= len(got) <= 3
    # The newest survive.
    assert got[-1].topic == "q/t9"


def test_expired_held_messages_are_never_delivered(broker_factory):
    b = _hold_broker(broker_factory)
    pub = Client(b)
    pub.publish("q/exp", b"short", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    pub.publish("q/exp", b"long", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=60))
    time.sleep(1.6)  # real time: the first message expires after 1 s
    sub = Client(b)
    sub.subscribe("q/exp", 1)
    got = sub.take(1)
    assert got[0].payload == b"long"
    # The remaining interval is forwarded: less than the original 60 s.
    assert got[0].properties.MessageExpiryInterval <= 59
    sub.expect_only_marker(pub, "q/exp")


def test_hold_default_expiry(broker_factory):
    b = _hold_broker(broker_factory, "--hold-default-expiry", "1")
    pub = Client(b, version=4)
    pub.publish("q/d", b"gone", qos=1)
    time.sleep(1.6)  # real time: held messages expire after 1 s
    sub = Client(b)
    sub.subscribe("q/#", 1)
    sub.expect_only_marker(pub, "q/marker")


def test_held_messages_follow_the_suback(broker_factory):
    """On the wire: SUBACK first, then the held PUBLISH packets."""
    b = _hold_broker(broker_factory)
    Client(b, version=4).publish("q/wire", b"x", qos=1)
    raw = RawClient(b, 4)
    raw.connect("raw-hold")
    raw.subscribe("q/wire", opts=1)  # waits for the SUBACK
    p = raw.recv_publish()
    assert p.topic == "q/wire" and p.payload == b"x"
