"""$SYS topics published every --sys-interval seconds."""
import re
import time

from mqtt_helpers import Client

REQUIRED = ["$SYS/broker/version", "$SYS/broker/uptime", "$SYS/broker/clients/connected"]


def _collect(c, topics, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = {m.topic for m in list(c.messages)}
        if all(t in seen for t in topics):
            return
        time.sleep(0.05)
    seen = sorted({m.topic for m in list(c.messages)})
    raise AssertionError(f"missing {[t for t in topics if t not in seen]}; got {seen}")


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
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        v = _last(c, "$SYS/broker/clients/connected")
        if v is not None and int(v) >= 4:
            break
        time.sleep(0.05)
    v = _last(c, "$SYS/broker/clients/connected")
    assert v is not None and int(v) >= 4, f"clients/connected = {v}, 4 clients are connected"
    for o in others:
        o.disconnect()
    c.clear()
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        v = _last(c, "$SYS/broker/clients/connected")
        if v is not None and int(v) == 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"clients/connected = {v} after 3 of 4 clients left")


def test_sys_uptime_advances(broker_factory):
    b = broker_factory(sys_interval=1)
    c = Client(b, version=4)
    c.subscribe("$SYS/broker/uptime", 0)
    first = c.take(1, timeout=3)[0]
    t0 = int(re.match(r"\d+", first.payload.decode()).group())
    later = c.take(1, timeout=3)[0]  # republished on the next interval
    t1 = int(re.match(r"\d+", later.payload.decode()).group())
    assert t1 > t0, (first.payload, later.payload)
