"""Forwarding through a bridge to a real upstream (Debian's Mosquitto, another MusQraTT), with
MQTT 3.1.1 and 5.0 on the link: out, in and both rules with their prefixes, QoS 1 and 2,
retained flags, no echo of what came through the bridge, and the $SYS status."""
import time

import pytest

from flow import Subscriber, count_flow, publish_numbered
from peers import bridge_table

UPSTREAMS = ["mosquitto", "musqratt"]
PROTOCOLS = ["mqttv311", "mqttv5"]


def start_upstream(lab, kind):
    if kind == "mosquitto":
        return lab.mosquitto("upstream").start()
    return lab.musqratt("upstream", args=["--max-queued-messages", "0"]).start()


def rules():
    return [
        {"filter": "sensors/#", "direction": "out", "qos": 1, "remote_prefix": "site1/"},
        {"filter": "cmd/#", "direction": "in", "qos": 2, "local_prefix": "from-cloud/"},
        {"filter": "shared/#", "direction": "both", "qos": 1},
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("upstream_kind", UPSTREAMS)
def test_out_in_both_with_prefixes(lab, upstream_kind, protocol):
    up = start_upstream(lab, upstream_kind)
    edge = lab.musqratt("edge", bridge_table("cloud", up.port, rules(), protocol=protocol, keepalive=10)).start()
    edge.wait_log(r"bridge 'cloud': connected to")
    v = 5 if protocol == "mqttv5" else 4
    up_sub = Subscriber("127.0.0.1", up.port, ["site1/#", "shared/#"], qos=1, version=v)
    edge_sub = Subscriber("127.0.0.1", edge.port, ["from-cloud/#", "shared/#"], qos=2, version=v)
    # The in rule's subscription is made once the link is up; a marker shows it arrived.
    deadline = time.monotonic() + 10
    while not any(t.startswith("from-cloud/") for t, *_ in edge_sub.messages):
        assert time.monotonic() < deadline, "the in rule never delivered"
        publish_numbered("127.0.0.1", up.port, "cmd/marker", 1, qos=1)
        edge_sub.wait_count(1, 0.5)

    assert publish_numbered("127.0.0.1", edge.port, "sensors/t1", 200, qos=1, version=v) == 200
    assert publish_numbered("127.0.0.1", edge.port, "sensors/t2", 20, qos=2, version=v) == 20
    assert publish_numbered("127.0.0.1", up.port, "cmd/valve", 50, qos=2, version=v) == 50
    assert publish_numbered("127.0.0.1", edge.port, "shared/from-edge", 5, qos=1) == 5
    assert publish_numbered("127.0.0.1", up.port, "shared/from-cloud", 5, qos=1) == 5

    up_sub.wait_count(230, 15)
    edge_sub.wait_count(60, 15)
    up_sub.wait_quiet(1.0)
    edge_sub.wait_quiet(1.0)
    up_msgs = [(t, p) for t, p, *_ in up_sub.messages]
    edge_msgs = [(t, p) for t, p, *_ in edge_sub.messages if t != "from-cloud/cmd/marker"]
    t1 = [p for t, p in up_msgs if t == "site1/sensors/t1"]
    t2 = [p for t, p in up_msgs if t == "site1/sensors/t2"]
    valve = [p for t, p in edge_msgs if t == "from-cloud/cmd/valve"]
    assert count_flow(t1, 200) == {"received": 200, "lost": 0, "duplicated": 0, "reordered": 0}
    assert count_flow(t2, 20) == {"received": 20, "lost": 0, "duplicated": 0, "reordered": 0}
    assert count_flow(valve, 50) == {"received": 50, "lost": 0, "duplicated": 0, "reordered": 0}
    # both: each side gets the other's messages once, and its own only once (no echo).
    assert sorted(p for t, p in up_msgs if t == "shared/from-edge") == [str(i).encode() for i in range(5)]
    assert sorted(p for t, p in up_msgs if t == "shared/from-cloud") == [str(i).encode() for i in range(5)]
    assert sorted(p for t, p in edge_msgs if t == "shared/from-cloud") == [str(i).encode() for i in range(5)]
    assert sorted(p for t, p in edge_msgs if t == "shared/from-edge") == [str(i).encode() for i in range(5)]
    # nothing outside the rules crossed, and nothing went in with the wrong prefix
    assert all(t.startswith(("site1/sensors/", "shared/")) for t, _ in up_msgs)
    assert all(t.startswith(("from-cloud/cmd/", "shared/")) for t, _ in edge_msgs)
    up_sub.close()
    edge_sub.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("upstream_kind", UPSTREAMS)
def test_retained_flags_cross_both_ways(lab, upstream_kind, protocol):
    up = start_upstream(lab, upstream_kind)
    edge = lab.musqratt("edge", bridge_table("cloud", up.port, rules(), protocol=protocol)).start()
    edge.wait_log(r"bridge 'cloud': connected to")
    edge_watch = Subscriber("127.0.0.1", edge.port, "from-cloud/#", qos=1)
    from flow import connect
    from mqtt_helpers import publish_packet, PUBACK
    for port, topic in ((edge.port, "sensors/config"), (up.port, "cmd/setpoint")):
        s, _ = connect("127.0.0.1", port, f"retainer-{port}")
        s.send(publish_packet(topic, b"42", qos=1, retain=True, pid=1))
        assert any(p[0] == PUBACK for p in s.packets(5.0))
        s.close()
    # The upstream now holds the edge's retained message (and the edge the upstream's): a
    # subscriber arriving later gets it flagged retained. One that subscribes while the bridge is
    # still forwarding it gets the live copy, unflagged: it does not count, the next one must.
    deadline = time.monotonic() + 10
    got = None
    while (got is None or not got[2]) and time.monotonic() < deadline:
        late = Subscriber("127.0.0.1", up.port, "site1/sensors/config", qos=1)
        late.wait_count(1, 1.0)
        if late.messages:
            got = late.messages[0]
        late.close()
    assert got is not None and got[0] == "site1/sensors/config" and got[1] == b"42" and got[2], got
    edge_watch.wait_count(1, 10)
    late_edge = Subscriber("127.0.0.1", edge.port, "from-cloud/cmd/setpoint", qos=1)
    assert late_edge.wait_count(1, 5)
    topic, payload, retain, _ = late_edge.messages[0]
    assert (topic, payload, retain) == ("from-cloud/cmd/setpoint", b"42", True)
    late_edge.close()
    edge_watch.close()


@pytest.mark.parametrize("upstream_kind", UPSTREAMS)
def test_sys_status_counts_and_states(lab, upstream_kind):
    up = start_upstream(lab, upstream_kind)
    up_port = up.port
    edge = lab.musqratt("edge", bridge_table("cloud", up_port, rules(), protocol="mqttv5"),
                        args=["--sys-interval", "1"]).start()
    edge.wait_log(r"bridge 'cloud': connected to")
    assert publish_numbered("127.0.0.1", edge.port, "sensors/s", 30, qos=1) == 30
    status = Subscriber("127.0.0.1", edge.port, "$SYS/broker/bridges/cloud/#", qos=0)

    def value(key):
        vals = [p.decode() for t, p, *_ in status.messages if t == f"$SYS/broker/bridges/cloud/{key}"]
        return vals[-1] if vals else None

    deadline = time.monotonic() + 10
    while value("sent") != "30" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert value("sent") == "30"
    assert value("state") == "connected"
    assert value("queued") == "0" and value("dropped") == "0" and value("oldest_queued_age") == "0"
    # The upstream goes: the state says so at once, and messages wait in the buffer.
    assert up.stop() is None
    edge.wait_log(r"bridge 'cloud': link to .* lost: ")
    assert publish_numbered("127.0.0.1", edge.port, "sensors/s", 7, qos=1, payload_size=100) == 7
    deadline = time.monotonic() + 10
    while not (value("queued") == "7" and value("state") in ("down", "connecting")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert value("queued") == "7" and value("queued_bytes") == "700"
    assert value("state") in ("down", "connecting")
    deadline = time.monotonic() + 10
    while int(value("oldest_queued_age") or 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert int(value("oldest_queued_age")) >= 1
    status.close()
