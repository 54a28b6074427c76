"""Shared subscriptions (one member cluster-wide per message), retained messages seen from
every node, and a will fired on one node delivered on another."""
import time

import pytest

from cluster_helpers import SeqCounter, client, sync_interest
from mqtt_helpers import unique_id


@pytest.mark.parametrize("qos", [0, 1])
def test_shared_subscription_one_member_cluster_wide(cluster, qos):
    a, b, c = cluster.nodes
    group, topic = unique_id("g"), unique_id("shared")
    members = [client(n) for n in (a, b, b, c)]
    for m in members:
        m.subscribe(f"$share/{group}/{topic}/#", 1)
    plain = client(c)
    plain.subscribe(f"{topic}/#", 1)  # a plain subscription still gets everything
    pub = client(b)
    sync_interest(pub, plain, f"{topic}/sync")
    # The group's own interest must have reached every node before counting (QoS 0 is core NATS).
    time.sleep(0.5)
    for m in members:
        m.clear()
    n = 200
    for i in range(n):
        pub.publish(f"{topic}/x", f"s:{i}".encode(), qos=qos)
    assert len(plain.take(n, timeout=15)) == n
    counter = SeqCounter()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        total = sum(len(m.messages) for m in members)
        if total >= n:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # anything extra would show now
    per_member = []
    for m in members:
        with m.lock:
            per_member.append(len(m.messages))
            for msg in m.messages:
                counter.add(msg.payload)
    missing, dups, _ = counter.report("s", range(n))
    assert not dups, f"delivered to more than one member: {dups[:10]}"
    assert not missing, f"lost: {missing[:10]}"
    # How the group is balanced across nodes is NATS' choice (it prefers queue members attached
    # to the publishing server; see docs/cluster.md); within a node, members take turns.
    assert sum(per_member) == n, per_member


def test_retained_seen_from_every_node_and_cleared(cluster):
    a, b, c = cluster.nodes
    topic = unique_id("ret")
    pub = client(a)
    pub.publish(topic, b"kept", qos=1, retain=True)
    for node in (a, b, c):
        def seen():
            s = client(node)
            s.subscribe(topic, 1)
            try:
                m = s.take(1, timeout=0.5)[0]
                return m.payload == b"kept" and m.retain
            except AssertionError:
                return False
            finally:
                s.stop()
        deadline = time.monotonic() + 10
        while not seen():
            assert time.monotonic() < deadline, f"retained message not seen on node {node.node}"
    # Newer retained message from another node replaces it everywhere.
    client(c).publish(topic, b"newer", qos=1, retain=True)
    for node in (a, b):
        deadline = time.monotonic() + 10
        while True:
            s = client(node)
            s.subscribe(topic, 1)
            got = s.take(1, timeout=2)[0].payload
            s.stop()
            if got == b"newer":
                break
            assert time.monotonic() < deadline, f"node {node.node} still has {got!r}"
    # An empty retained message clears the topic on every node.
    client(b).publish(topic, b"", qos=1, retain=True)
    for node in (a, b, c):
        deadline = time.monotonic() + 10
        while True:
            s = client(node)
            s.subscribe(topic, 1)
            try:
                s.take(1, timeout=0.5)
                cleared = False
            except AssertionError:
                cleared = True
            s.stop()
            if cleared:
                break
            assert time.monotonic() < deadline, f"node {node.node} still has a retained message"


def test_retained_from_before_a_node_started(cluster_factory):
    c = cluster_factory(nodes=2, nats_servers=1, replicas=1)
    a, b = c.nodes
    topic = unique_id("early")
    client(a).publish(topic, b"before b restarted", qos=1, retain=True)
    b.restart()
    s = client(b)
    s.subscribe(topic, 1)
    m = s.take(1, timeout=10)[0]
    assert m.payload == b"before b restarted" and m.retain


@pytest.mark.parametrize("qos", [0, 1])
def test_will_fired_on_one_node_delivered_on_another(cluster, qos):
    a, b, c = cluster.nodes
    topic = unique_id("will")
    watchers = [client(b), client(c)]
    for w in watchers:
        w.subscribe(topic, 1)
    dying = client(a, will={"topic": topic, "payload": b"gone", "qos": qos})
    sync_interest(client(a), watchers, topic)
    dying.kill()  # no DISCONNECT: the will goes out
    for w in watchers:
        m = w.take(1, timeout=10)[0]
        assert m.payload == b"gone"
        assert m.qos == qos
