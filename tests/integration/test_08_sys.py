"""$SYS topics published every --sys-interval seconds."""
import re

from mqtt_helpers import Client

REQUIRED = ["$SYS/broker/version", "$SYS/broker/uptime", "$SYS/broker/clients/connected"]


def _collect(c, topics, timeout):
    for t in topics:
        c.wait_for(lambda m: m.topic == t, timeout=timeout, what=t)


def _last(c, topic):
    vals = [m.payload.decode() for m in list(c.messages) if m.topic == topic]
    return vals[-1] if vals else None


def test_sys_topics_published(broker_factory):
    b = broker_factory(sys_interval=1)
    c = Client(b, version=4)
    c.subscribe("$SYS/#", 0)
    _collect(c, REQUIRED, 3.5)
    assert _last(c, "$SYS/broker/version").strip(), "empty version"
    assert re.match(r"^\d+", _last(c, "$SYS/broker/uptime")), _last(c, "$SYS/broker/uptime")


def test_sys_clients_connected_counts(broker_factory):
    b = broker_factory(sys_interval=1)
    others = [Client(b, version=4) for _ in range(3)]
    c = Client(b, version=5)
    c.subscribe("$SYS/broker/clients/connected", 0)
    topic = "$SYS/broker/clients/connected"
    c.wait_for(lambda m: m.topic == topic and int(m.payload) >= 4, timeout=3.5,
               what="clients/connected >= 4 (4 clients are connected)")
    v = _last(c, topic)
    assert v is not None and int(v) >= 4, f"clients/connected = {v}, 4 clients are connected"
    for o in others:
        o.disconnect()
    c.clear()
    c.wait_for(lambda m: m.topic == topic and int(m.payload) == 1, timeout=3.5,
               what="clients/connected = 1 after 3 of 4 clients left")


def test_sys_uptime_advances(broker_factory):
    b = broker_factory(sys_interval=1)
    c = Client(b, version=4)
    c.subscribe("$SYS/broker/uptime", 0)
    first = c.take(1, timeout=3)[0]
    t0 = int(re.match(r"\d+", first.payload.decode()).group())
    later = c.take(1, timeout=3)[0]  # republished on the next interval
    t1 = int(re.match(r"\d+", later.payload.decode()).group())
    assert t1 > t0, (first.payload, later.payload)
