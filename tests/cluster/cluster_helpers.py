"""Helpers for the cluster tests: clients on a node, waiting until interest made on one node
is seen by another, reading a node's $SYS/broker/cluster values, and counting sequence-numbered
messages end to end (lost, duplicated, reordered)."""
import threading
import time

from mqtt_helpers import Client, unique_id


def client(node, **kw):
    return Client(node, **kw)


def sync_interest(pub, subs, topic, timeout=10.0):
    """QoS 0 rides core NATS: a subscription on one node is seen by another once NATS has
    propagated it. Publishes probes on `topic` from `pub` until each of `subs` (a client or a
    list) has received one, then drops the probes from their buffers."""
    subs = subs if isinstance(subs, (list, tuple)) else [subs]
    deadline = time.monotonic() + timeout
    waiting = list(subs)
    while waiting:
        if time.monotonic() > deadline:
            raise AssertionError(f"no probe on {topic} arrived within {timeout}s")
        pub.publish(topic, b"sync-probe", qos=0)
        time.sleep(0.05)
        for s in list(waiting):
            with s.lock:
                if any(m.payload == b"sync-probe" for m in s.messages):
                    waiting.remove(s)
    time.sleep(0.3)  # the probes still in flight
    for s in subs:
        with s.lock:
            s.messages = [m for m in s.messages if m.payload != b"sync-probe"]


def sys_value(node, name, timeout=5.0):
    """The retained $SYS/broker/cluster/<name> of a node (the nodes here publish $SYS every second)."""
    c = Client(node, client_id=unique_id("sys"))
    try:
        c.subscribe(f"$SYS/broker/cluster/{name}", 0)
        return c.take(1, timeout)[0].payload.decode()
    finally:
        c.stop()


def wait_sys(node, name, predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = sys_value(node, name)
        if predicate(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"$SYS/broker/cluster/{name} on {node.node} stayed {last!r}")


class SeqCounter:
    """Counts payloads "<stream>:<n>" end to end: which arrived, how often, in which order."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}
        self.order = {}

    def add(self, payload):
        try:
            stream, n = payload.decode().rsplit(":", 1)
            n = int(n)
        except ValueError:
            return  # not a counted message (a probe)
        with self.lock:
            self.seen.setdefault(stream, {}).setdefault(n, 0)
            self.seen[stream][n] += 1
            self.order.setdefault(stream, []).append(n)

    def report(self, stream, expected):
        """(missing, duplicated, reordered) among `expected` numbers of `stream`."""
        with self.lock:
            got = self.seen.get(stream, {})
            order = list(self.order.get(stream, []))
        missing = [n for n in expected if n not in got]
        dups = [n for n, c in got.items() if c > 1]
        firsts, seen = [], set()
        for n in order:
            if n not in seen:
                seen.add(n)
                firsts.append(n)
        reordered = sum(1 for a, b in zip(firsts, firsts[1:]) if b < a)
        return missing, dups, reordered
