"""Topic matching: + and #, $-topics not matched by leading wildcards, shared subscriptions,
No Local, Subscription Identifiers."""
import collections

import pytest

from mqtt_helpers import (PUBLISH, P_SUBSCRIPTION_ID, Client, RawClient, drain_shared_group,
                          unique_id)

MATCH_CASES = [
    # filter, topic, matches
    ("a/b/c", "a/b/c", True),
    ("a/b/c", "a/b", False),
    ("a/+/c", "a/x/c", True),
    ("a/+/c", "a/x/y/c", False),
    ("a/+", "a/", True),            # empty level matches +
    ("+/+", "/x", True),
    ("+", "/x", False),
    ("a/#", "a", True),             # [MQTT-4.7.1-2] # includes the parent level
    ("a/#", "a/b/c/d", True),
    ("a/#", "ab/c", False),
    ("#", "x/y", True),
    ("+/b/#", "a/b", True),
    ("A/b", "a/b", False),          # case sensitive
    ("a/b/", "a/b", False),
    ("/+", "/x", True),
    ("sport/tennis/+", "sport/tennis/player1/ranking", False),
]


def reference_match(flt, topic):
    f, t = flt.split("/"), topic.split("/")
    if topic.startswith("$") and f[0] in ("+", "#"):
        return False
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t):
            return False
        if level != "+" and level != t[i]:
            return False
    return len(f) == len(t)


def test_reference_matcher_agrees_with_table():
    for f, t, m in MATCH_CASES:
        assert reference_match(f, t) == m, (f, t)


@pytest.mark.parametrize("version", [4, 5])
def test_wildcard_matching(broker, version):
    filters = sorted({f for f, _, _ in MATCH_CASES})
    topics = sorted({t for _, t, _ in MATCH_CASES})
    subs = {}
    for f in filters:
        c = RawClient(broker, version)
        c.connect(unique_id())
        assert c.subscribe([(f, 1), ("zz/end", 1)]) == [1, 1]
        subs[f] = c
    pub = RawClient(broker, version)
    pub.connect(unique_id())
    for t in topics:
        pub.publish(t, t.encode(), qos=1)
    pub.publish("zz/end", b"end", qos=1)
    for f, c in subs.items():
        got = []
        while True:
            p = c.recv_publish()
            if p.topic == "zz/end":
                break
            got.append(p.topic)
        want = [t for t in topics if reference_match(f, t)]
        assert sorted(got) == want, f"filter {f!r}: got {sorted(got)}, expected {want}"


def test_single_filter_non_match(broker):
    sub = Client(broker, version=4)
    sub.subscribe("sport/tennis/+", 0)
    pub = Client(broker, version=4)
    pub.publish("sport/tennis/player1/ranking", b"no", qos=1)
    pub.publish("sport/tennis", b"no", qos=1)
    pub.publish("sport/tennis/player1", b"yes", qos=1)
    m = sub.take(1)[0]
    assert m.topic == "sport/tennis/player1"
    sub.expect_only_marker(pub, "sport/tennis/marker")


@pytest.mark.parametrize("sys_filter", ["#", "+/broker/#", "+/#"])
def test_dollar_topics_not_matched_by_leading_wildcards(broker_factory, sys_filter):
    # [MQTT-4.7.2-1] filters starting with a wildcard do not match topics starting with $
    b = broker_factory(sys_interval=1)
    wild = Client(b, version=4)
    wild.subscribe(sys_filter, 0)
    sys_sub = Client(b, version=4)
    sys_sub.subscribe("$SYS/#", 0)
    sys_sub.wait_messages(1, timeout=3)  # $SYS traffic exists
    # at least one more $SYS period: the retained uptime came on subscribing, the second one
    # was published live, to every matching subscriber at once
    sys_sub.wait_for(lambda m: m.topic == "$SYS/broker/uptime", count=2, timeout=4)
    pub = Client(b, version=4)
    pub.publish("normal/broker/t", b"n", qos=1)
    # after everything routed to `wild` before it
    wild.wait_for(lambda m: m.topic == "normal/broker/t")
    topics = [m.topic for m in wild.messages]
    assert "normal/broker/t" in topics
    assert not [t for t in topics if t.startswith("$")], topics


def test_dollar_topic_matched_explicitly(broker_factory):
    b = broker_factory(sys_interval=1)
    c = Client(b, version=4)
    c.subscribe("$SYS/broker/+", 0)
    msgs = c.wait_messages(1, timeout=3)
    assert all(m.topic.startswith("$SYS/broker/") and m.topic.count("/") == 2 for m in msgs)


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_shared_subscription_balanced(broker, qos):
    members = [Client(broker, version=5) for _ in range(3)]
    for m in members:
        m.subscribe("$share/g1/sh/t", qos)
    normal = Client(broker, version=5)
    normal.subscribe("sh/t", qos)
    pub = Client(broker, version=5)
    n = 30
    for i in range(n):
        pub.publish("sh/t", str(i).encode(), qos=max(qos, 1))
    normal.take(n)  # a non-shared subscriber gets all of them
    drain_shared_group(members, pub, "sh/t", qos=max(qos, 1))
    got = [int(x.payload) for m in members for x in m.messages]
    # each message to exactly one member of the group
    assert sorted(got) == list(range(n)), f"lost or duplicated: {sorted(got)}"
    counts = [len(m.messages) for m in members]
    assert all(c > 0 for c in counts), f"not balanced across members: {counts}"
    assert max(counts) < n, counts


def test_shared_subscription_two_groups(broker):
    g1 = [Client(broker, version=5) for _ in range(2)]
    g2 = [Client(broker, version=5) for _ in range(2)]
    for m in g1:
        m.subscribe("$share/a/two/+", 1)
    for m in g2:
        m.subscribe("$share/b/two/+", 1)
    pub = Client(broker, version=5)
    for i in range(10):
        pub.publish(f"two/{i}", str(i).encode(), qos=1)
    drain_shared_group(g1 + g2, pub, "two/marker")
    for group in (g1, g2):  # every group receives every message once
        got = sorted(int(x.payload) for m in group for x in m.messages)
        assert got == list(range(10)), got


def test_shared_subscription_v311_client(broker):
    a = Client(broker, version=4)
    b = Client(broker, version=4)
    a.subscribe("$share/g/s311", 1)
    b.subscribe("$share/g/s311", 1)
    pub = Client(broker, version=4)
    for i in range(10):
        pub.publish("s311", str(i).encode(), qos=1)
    drain_shared_group([a, b], pub, "s311")
    got = sorted(int(x.payload) for c in (a, b) for x in c.messages)
    assert got == list(range(10))


def test_no_local(broker):
    c = Client(broker, version=5)
    c.subscribe("nl/t", 1, no_local=True)
    other = Client(broker, version=5)
    other.subscribe("nl/t", 1)
    c.publish("nl/t", b"own", qos=1)
    assert other.take(1)[0].payload == b"own"
    c.expect_only_marker(other, "nl/t")  # [MQTT-3.8.3-3]
    other.publish("nl/t", b"foreign", qos=1)
    assert c.take(1)[0].payload == b"foreign"


def test_without_no_local_own_messages_arrive(broker):
    c = Client(broker, version=5)
    c.subscribe("nl2/t", 1)
    c.publish("nl2/t", b"own", qos=1)
    assert c.take(1)[0].payload == b"own"


def test_subscription_identifier(broker):
    c = RawClient(broker, 5)
    c.connect(unique_id())
    c.subscribe("sid/a", 1, props={P_SUBSCRIPTION_ID: 42})
    c.subscribe("sid/b", 1, props={P_SUBSCRIPTION_ID: 268435455})
    c.subscribe("sid/c", 1)
    pub = Client(broker, version=5)
    pub.publish("sid/a", b"a", qos=1)
    pub.publish("sid/b", b"b", qos=1)
    pub.publish("sid/c", b"c", qos=1)
    got = {}
    for _ in range(3):
        p = c.recv_publish()
        got[p.topic] = p.props.all(P_SUBSCRIPTION_ID)
    assert got == {"sid/a": [42], "sid/b": [268435455], "sid/c": []}


def test_subscription_identifier_overlapping(broker):
    # [MQTT-3.3.4-3..5]: every matching subscription's identifier is delivered, either in one
    # PUBLISH carrying both or in one PUBLISH per subscription
    c = RawClient(broker, 5)
    c.connect(unique_id())
    c.subscribe("sio/#", 1, props={P_SUBSCRIPTION_ID: 1})
    c.subscribe("sio/+", 1, props={P_SUBSCRIPTION_ID: 2})
    pub = Client(broker, version=5)
    pub.publish("sio/x", b"x", qos=1)
    ids = []
    ids += c.recv_publish().props.all(P_SUBSCRIPTION_ID)
    # sio/m/x matches sio/# only: one marker, after every copy of "x"
    for p in c.take_until_marker(pub, "sio/m/x"):
        assert p.type == PUBLISH and p.payload == b"x", p
        ids += p.props.all(P_SUBSCRIPTION_ID)
    assert sorted(ids) == [1, 2]


def test_subscription_identifier_paho(broker):
    c = Client(broker, version=5)
    c.subscribe("sidp/#", 1, sub_id=7)
    c.publish("sidp/x", b"x", qos=1)
    m = c.take(1)[0]
    assert m.properties.SubscriptionIdentifier == [7]
