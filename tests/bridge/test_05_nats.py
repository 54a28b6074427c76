"""A MusQraTT site feeding a distributed engine: the upstream is a cluster of three
nats-server 2.9 processes with JetStream and their MQTT listeners (MQTT 3.1.1, QoS 0/1). A
message published at the edge reaches a subscriber connected to another NATS node, and
commands published on a third node come down to the edge."""
import time

from flow import Subscriber, count_flow, publish_numbered
from peers import bridge_table


def subscriber_when_ready(port, filters, timeout=30.0, **kw):
    """NATS accepts MQTT sessions once JetStream has elected its leaders."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Subscriber("127.0.0.1", port, filters, **kw)
        except (OSError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_edge_to_a_three_node_nats_cluster(lab):
    cluster = lab.nats(3).start()
    entry, other, third = cluster.nodes
    rules = [{"filter": "metrics/#", "direction": "out", "qos": 1, "remote_prefix": "site3/"},
             {"filter": "commands/#", "direction": "in", "qos": 1, "local_prefix": "hq/"}]
    # The link enters the cluster through one node; the subscriber is on another.
    far = subscriber_when_ready(other.mqtt_port, "site3/#", qos=1, client_id="dashboard", clean=False)
    edge = lab.musqratt("edge", bridge_table("nats", entry.mqtt_port, rules, protocol="mqttv311", keepalive=10,
                                             connect_timeout_ms=20000), persistence=True).start()
    edge.wait_log(r"bridge 'nats': connected to", timeout=40)
    edge_sub = Subscriber("127.0.0.1", edge.port, "hq/#", qos=1)

    assert publish_numbered("127.0.0.1", edge.port, "metrics/line4/temp", 1000, qos=1) == 1000
    assert far.wait_count(1000, 30), f"{far.count()} of 1000 reached the other NATS node"
    far.wait_quiet(1.0)
    assert {t for t, *_ in far.messages} == {"site3/metrics/line4/temp"}
    assert count_flow(far.payloads(), 1000) == {"received": 1000, "lost": 0, "duplicated": 0, "reordered": 0}

    # Commands published on a third node come down through the bridge's subscription.
    deadline = time.monotonic() + 20
    while not edge_sub.messages:
        assert time.monotonic() < deadline, "nothing came down from the NATS cluster"
        try:
            publish_numbered("127.0.0.1", third.mqtt_port, "commands/line4/stop", 1, qos=1, timeout=5)
        except (OSError, ConnectionError, TimeoutError):
            pass
        edge_sub.wait_count(1, 1.0)
    assert edge_sub.messages[0][0] == "hq/commands/line4/stop"
    far.close()
    edge_sub.close()
