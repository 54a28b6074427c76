"""hold_unsubscribed across nodes: a message nobody subscribes to anywhere is held by the
cluster and goes to the first subscriber on any node, once, in publish order."""
import pytest

from cluster_helpers import client, sync_interest, wait_sys
from mqtt_helpers import unique_id


@pytest.fixture(scope="module")
def hold_cluster(request, tmp_path_factory):
    from conftest import Cluster
    c = Cluster(str(tmp_path_factory.mktemp("hold")), nodes=3, replicas=3,
                node_args=["--hold-unsubscribed", "held/#"]).start()
    request.node._clusters = [c]
    yield c
    c.stop()


def test_held_message_goes_to_the_first_subscriber_on_any_node(hold_cluster):
    a, b, c = hold_cluster.nodes
    topic = f"held/{unique_id()}"
    pub = client(a)
    for i in range(5):
        pub.publish(f"{topic}/x", f"h{i}".encode(), qos=1)
    pub.publish(f"{topic}/y", b"other topic", qos=0)
    wait_sys(a, "hold/held", lambda v: int(v) >= 6)
    first = client(b)
    first.subscribe(f"{topic}/#", 1)
    got = first.take(6, timeout=15)
    assert [m.payload for m in got] == [b"h0", b"h1", b"h2", b"h3", b"h4", b"other topic"]
    second = client(c)
    second.subscribe(f"{topic}/#", 1)
    second.expect_no_message(2.0)  # taken once, by the first
    first.expect_no_message(0.1)


def test_not_held_when_another_node_has_a_subscriber(hold_cluster):
    a, b, c = hold_cluster.nodes
    uid = unique_id()
    topic = f"held/{uid}"
    listener = client(c)
    listener.subscribe(f"+/{uid}", 1)  # one NATS interest for the held topic and the probe topic
    pub = client(a)
    sync_interest(pub, listener, f"sync/{uid}")  # probes on a topic that is never held
    held_before = int(wait_sys(a, "hold/held", lambda v: True))
    for i in range(5):
        pub.publish(topic, f"live{i}".encode(), qos=1)
    assert [m.payload for m in listener.take(5, timeout=10)] == [f"live{i}".encode() for i in range(5)]
    later = client(b)
    later.subscribe(topic, 1)
    later.expect_no_message(2.0)
    assert int(wait_sys(a, "hold/held", lambda v: True)) == held_before


def test_held_message_expires(hold_cluster):
    from paho.mqtt.packettypes import PacketTypes
    from mqtt_helpers import props
    a, b, _ = hold_cluster.nodes
    topic = f"held/{unique_id()}"
    pub = client(a)
    pub.publish(topic, b"short", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=1))
    pub.publish(topic, b"long", qos=1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=300))
    import time
    time.sleep(2.2)  # the first one's expiry passes while it is held
    s = client(b)
    s.subscribe(topic, 1)
    got = s.take(1, timeout=15)
    assert got[0].payload == b"long"
    s.expect_no_message(1.5)
