"""Faults, counting every message end to end (sequence numbers in the payload): a NATS server
killed with SIGKILL while QoS 1 traffic flows between nodes, and a NATS outage and its return.
Every message a publisher had acknowledged must arrive; duplicates and reordering are counted
and bounded by what docs/cluster.md promises."""
import threading
import time

from cluster_helpers import SeqCounter, client, sync_interest, wait_sys
from mqtt_helpers import unique_id


class Publisher(threading.Thread):
    """Publishes "<stream>:<n>" at QoS 1, each acknowledged before the next, until told to stop
    or `count` are out; remembers which were acknowledged."""

    def __init__(self, node, topic, stream, count, pace=0.0):
        super().__init__(daemon=True)
        self.c = client(node, client_id=unique_id("pub"))
        self.topic, self.stream, self.count, self.pace = topic, stream, count, pace
        self.acked = []
        self.error = None
        self.slowest = 0.0  # seconds, the longest wait for an acknowledgement
        self.stop_flag = threading.Event()

    def run(self):
        try:
            for n in range(self.count):
                if self.stop_flag.is_set():
                    break
                # Acknowledged once JetStream holds it: a killed NATS server can hold that up for
                # a leader election and a resend (publish_timeout_ms, 5 s).
                t = time.monotonic()
                info = self.c.publish(self.topic, f"{self.stream}:{n}".encode(), qos=1, wait=False)
                info.wait_for_publish(30)
                if not info.is_published():
                    raise AssertionError(f"{self.stream}:{n} not acknowledged within 30 s")
                self.slowest = max(self.slowest, time.monotonic() - t)
                self.acked.append(n)
                if self.pace:
                    time.sleep(self.pace)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def collect(sub, counter):
    sub.c.on_message = lambda c, ud, m: counter.add(m.payload)


def wait_all(counter, stream, expected, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        missing, _, _ = counter.report(stream, expected)
        if not missing:
            return
        time.sleep(0.1)


def test_nats_server_killed_during_qos1_traffic(cluster_factory):
    c = cluster_factory(nodes=3, replicas=3)
    a, b, d = c.nodes
    topic = unique_id("kill-nats")
    counters = {}
    subs = []
    for node in (b, d):
        s = client(node, client_id=unique_id("sub"))
        s.subscribe(topic, 1)
        counters[node.node] = SeqCounter()
        collect(s, counters[node.node])
        subs.append(s)
    pub = Publisher(a, topic, "k", 3000, pace=0.001)
    pub.start()
    time.sleep(1.0)
    c.nats[0].kill9()  # a third of the NATS cluster (and maybe some stream and consumer leaders)
    pub.join(timeout=90)
    assert not pub.is_alive(), "publisher stuck"
    assert pub.error is None, pub.error
    print(f"longest wait for a PUBACK: {pub.slowest:.2f} s")
    expected = pub.acked
    assert len(expected) == 3000
    for name, counter in counters.items():
        wait_all(counter, "k", expected, timeout=40)
        missing, dups, reordered = counter.report("k", expected)
        assert not missing, f"node {name}: {len(missing)} acknowledged message(s) lost, first {missing[:10]}"
        print(f"node {name}: {len(dups)} duplicate(s), {reordered} reordering(s)")


def test_nats_outage_and_return(cluster_factory):
    c = cluster_factory(nodes=2, replicas=3)
    a, b = c.nodes
    topic = unique_id("outage")
    local_sub = client(a)
    local_sub.subscribe(topic, 1)
    remote = client(b, client_id=unique_id("remote"))
    remote.subscribe(topic, 1)
    counter = SeqCounter()
    collect(remote, counter)
    pub = client(a, client_id=unique_id("pub"))
    sync_interest(pub, [local_sub], topic)
    local_sub.clear()
    for n in range(100):
        pub.publish(topic, f"o:{n}".encode(), qos=1)
    for s in c.nats:
        s.kill9()
    wait_sys(a, "nats/state", lambda v: v != "connected")
    # Local traffic keeps flowing while NATS is away.
    for n in range(100, 300):
        pub.publish(topic, f"o:{n}".encode(), qos=1)
    got = local_sub.take(300, timeout=10)
    assert [m.payload for m in got] == [f"o:{n}".encode() for n in range(300)]
    for s in c.nats:
        s.start()
    wait_sys(a, "nats/state", lambda v: v == "connected", timeout=30)
    # Connected again, a publisher's acknowledgement waits until JetStream holds its message,
    # and so behind the 300 that waited on the node and are being stored now.
    infos = [pub.publish(topic, f"o:{n}".encode(), qos=1, wait=False) for n in range(300, 400)]
    for info in infos:
        info.wait_for_publish(60)
        assert info.is_published(), "not acknowledged within 60 s of NATS' return"
    expected = list(range(400))
    wait_all(counter, "o", expected, timeout=60)
    missing, dups, reordered = counter.report("o", expected)
    assert not missing, f"{len(missing)} acknowledged message(s) lost across the outage, first {missing[:10]}"
    print(f"outage: {len(dups)} duplicate(s), {reordered} reordering(s)")
    wait_sys(a, "messages/pending", lambda v: v == "0", timeout=30)


def test_musqratt_node_killed_sessions_continue_on_a_survivor(cluster_factory):
    """SIGKILL of a MusQraTT node while QoS 1 traffic flows between the other two and into
    persistent sessions it served: those clients reconnect to a surviving node and receive
    every message that was acknowledged to its publisher."""
    c = cluster_factory(nodes=3, replicas=3, node_args=["--cluster-checkpoint-interval", "1"])
    a, b, doomed = c.nodes
    topic = unique_id("kill-node")
    counters = {}
    victims = []
    for i in range(2):
        cid = unique_id(f"victim{i}")
        v = client(doomed, client_id=cid, clean=False, session_expiry=300)
        v.subscribe(topic, 1)
        counters[cid] = SeqCounter()
        collect(v, counters[cid])
        victims.append(cid)
    survivor = client(b, client_id=unique_id("survivor"))
    survivor.subscribe(topic, 1)
    counters["survivor"] = SeqCounter()
    collect(survivor, counters["survivor"])
    pubs = [Publisher(a, topic, "pa", 1500, pace=0.002), Publisher(b, topic, "pb", 1500, pace=0.002)]
    for p in pubs:
        p.start()
    wait_for_count = time.monotonic() + 20
    while sum(len(v) for v in counters[victims[0]].seen.values()) < 300 and time.monotonic() < wait_for_count:
        time.sleep(0.05)
    doomed.kill9()
    time.sleep(0.5)  # the clients notice their connection is gone, then come back elsewhere
    again = []
    for cid in victims:
        r = client(b, client_id=cid, clean=False, session_expiry=300)
        assert r.session_present, f"{cid}: the session of the dead node was not rebuilt"
        collect(r, counters[cid])
        again.append(r)
    for p in pubs:
        p.join(timeout=120)
        assert not p.is_alive(), "publisher stuck"
        assert p.error is None, p.error
    for name, counter in counters.items():
        for p in pubs:
            wait_all(counter, p.stream, p.acked, timeout=40)
            missing, dups, reordered = counter.report(p.stream, p.acked)
            assert not missing, (f"{name}: {len(missing)} of {len(p.acked)} acknowledged message(s) from {p.stream} "
                                 f"lost, first {missing[:10]}")
            print(f"{name} <- {p.stream}: {len(dups)} duplicate(s), {reordered} reordering(s)")
