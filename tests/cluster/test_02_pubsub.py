"""Cross-node publish/subscribe: a message published on any node reaches every matching
subscriber on every node, at the QoS the rules give, once, in publisher order."""
import pytest
from paho.mqtt.packettypes import PacketTypes

from cluster_helpers import client, sync_interest, sys_value, wait_sys
from mqtt_helpers import props, unique_id


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_cross_node_each_qos_in_order(cluster, qos):
    a, b, c = cluster.nodes
    topic = f"pubsub/{qos}/{unique_id()}"
    subs = [client(b), client(c)]
    for s in subs:
        s.subscribe(topic, 2)
    pub = client(a)
    sync_interest(pub, subs, topic)
    for i in range(200):
        pub.publish(topic, f"m{i}".encode(), qos=qos)
    for s in subs:
        got = s.take(200, timeout=10)
        assert [m.payload for m in got] == [f"m{i}".encode() for i in range(200)]
        assert all(m.qos == qos for m in got)  # granted 2: the message's own QoS
        s.expect_no_message(0.3)


def test_wildcards_and_the_parent_of_hash(cluster):
    a, b, c = cluster.nodes
    base = unique_id("wc")
    plus, hash_ = client(b), client(c)
    plus.subscribe(f"{base}/+/x", 1)
    hash_.subscribe(f"{base}/#", 1)
    pub = client(a)
    sync_interest(pub, plus, f"{base}/probe/x")
    sync_interest(pub, hash_, f"{base}/probe")
    pub.publish(f"{base}/k/x", b"1", qos=1)
    pub.publish(f"{base}/k/y", b"2", qos=1)
    pub.publish(base, b"parent", qos=1)  # "base/#" matches "base" too
    pub.publish(f"{base}/a.b/x", b"dot", qos=1)  # NATS specials inside a level
    pub.publish(f"{base}/*/x", b"star", qos=0)
    pub.publish(f"{base}//x", b"empty", qos=0)
    got_plus = {(m.topic, m.payload) for m in plus.take(4, timeout=10)}
    assert got_plus == {(f"{base}/k/x", b"1"), (f"{base}/a.b/x", b"dot"), (f"{base}/*/x", b"star"),
                        (f"{base}//x", b"empty")}
    got_hash = {(m.topic, m.payload) for m in hash_.take(6, timeout=10)}
    assert (base, b"parent") in got_hash and (f"{base}/k/y", b"2") in got_hash
    plus.expect_no_message(0.3)
    hash_.expect_no_message(0.3)


def test_overlapping_subscriptions_on_a_node_give_one_copy(cluster):
    a, b, _ = cluster.nodes
    base = unique_id("ov")
    s = client(b)
    s.subscribe(f"{base}/+", 1)
    s.subscribe(f"{base}/x", 2)
    s.subscribe(f"{base}/#", 0)
    other = client(b)  # another session on the same node, other filter
    other.subscribe(f"{base}/x", 1)
    pub = client(a)
    sync_interest(pub, [s, other], f"{base}/x")
    for i in range(20):
        pub.publish(f"{base}/x", f"{i}".encode(), qos=1)
    got = s.take(20, timeout=10)
    assert [m.payload for m in got] == [f"{i}".encode() for i in range(20)]
    assert all(m.qos == 1 for m in got)  # highest of the matching subscriptions, capped by the message
    assert len(other.take(20, timeout=10)) == 20
    s.expect_no_message(0.5)
    other.expect_no_message(0.1)


def test_properties_and_expiry_travel(cluster):
    a, b, _ = cluster.nodes
    topic = unique_id("props")
    s = client(b)
    s.subscribe(topic, 1)
    pub = client(a)
    sync_interest(pub, s, topic)
    p = props(PacketTypes.PUBLISH, ContentType="text/plain", ResponseTopic="reply/here",
              CorrelationData=b"\x00\x01", UserProperty=[("k", "v"), ("k", "w")], PayloadFormatIndicator=1,
              MessageExpiryInterval=100)
    pub.publish(topic, b"with properties", qos=1, properties=p)
    m = s.take(1, timeout=10)[0]
    assert m.payload == b"with properties"
    assert m.properties.ContentType == "text/plain"
    assert m.properties.ResponseTopic == "reply/here"
    assert m.properties.CorrelationData == b"\x00\x01"
    assert m.properties.UserProperty == [("k", "v"), ("k", "w")]
    assert m.properties.PayloadFormatIndicator == 1
    assert 95 <= m.properties.MessageExpiryInterval <= 100


def test_publisher_node_subscriber_gets_one_copy_and_no_local_holds(cluster):
    a, b, _ = cluster.nodes
    topic = unique_id("local")
    local = client(a)
    local.subscribe(topic, 1)
    remote = client(b)
    remote.subscribe(topic, 1)
    pub = client(a)
    pub.subscribe(topic, 1, no_local=True)
    sync_interest(pub, remote, topic)
    local.clear()
    for i in range(10):
        pub.publish(topic, f"{i}".encode(), qos=1)
    assert len(local.take(10, timeout=5)) == 10
    assert len(remote.take(10, timeout=10)) == 10
    local.expect_no_message(0.5)  # its own node: routed once, never again from NATS
    pub.expect_no_message(0.1)  # No Local


def test_unsubscribe_drops_the_nodes_interest(cluster_factory):
    a, b = cluster_factory(nodes=2, nats_servers=1, replicas=1).nodes
    topic = unique_id("unsub")
    s1, s2 = client(b), client(b)
    s1.subscribe(topic, 1)
    s2.subscribe(topic, 1)  # two sessions, one interest
    wait_sys(b, "subscriptions", lambda v: v == "1")
    s1.unsubscribe(topic)
    pub = client(a)
    pub.publish(topic, b"still wanted", qos=1)
    assert s2.take(1, timeout=10)[0].payload == b"still wanted"
    s2.stop()  # its session ends: the last local subscription goes
    wait_sys(b, "subscriptions", lambda v: v == "0")
    in_before = int(sys_value(b, "messages/in"))
    pub.publish(topic, b"nobody", qos=1)
    pub.publish(topic, b"nobody", qos=0)
    other = client(b)
    other.subscribe(unique_id("later"), 1)  # a later message on another topic reaches b ...
    wait_sys(b, "subscriptions", lambda v: v == "1")
    s1.expect_no_message(0.3)
    assert int(sys_value(b, "messages/in")) == in_before  # ... and nothing came for the old one


def test_sys_shows_the_cluster(cluster):
    a, b, c = cluster.nodes
    assert sys_value(a, "node") == "a"
    assert sys_value(a, "nats/state") == "connected"
    assert sys_value(a, "jetstream") == "ready"
    wait_sys(a, "peers", lambda v: v == "2")
    assert set(sys_value(a, "peers/list").split(",")) == {"b", "c"}
    out_before = int(sys_value(a, "messages/out"))
    in_before = int(sys_value(b, "messages/in"))
    topic = unique_id("sys")
    s = client(b)
    s.subscribe(topic, 1)
    pub = client(a)
    for i in range(5):
        pub.publish(topic, b"x", qos=1)
    s.take(5, timeout=10)
    wait_sys(a, "messages/out", lambda v: int(v) >= out_before + 5)
    wait_sys(b, "messages/in", lambda v: int(v) >= in_before + 5)
    assert sys_value(a, "messages/lost") == "0"
