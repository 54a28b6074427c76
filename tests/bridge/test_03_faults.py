"""The other faults of the link, each counted end to end: a link that goes silent without
closing, an upstream that restarts without the bridge's session, a both rule on the same
filter at both ends, and a full buffer under each policy."""
import time

import pytest

from flow import Subscriber, count_flow, publish_numbered
from peers import bridge_table

RULE = [{"filter": "load/#", "direction": "out", "qos": 1, "remote_prefix": "edge1/"}]


def sys_value(port, bridge, key, timeout=10.0, want=None):
    """The latest value of $SYS/broker/bridges/BRIDGE/KEY (waiting until it equals `want`)."""
    sub = Subscriber("127.0.0.1", port, f"$SYS/broker/bridges/{bridge}/{key}", qos=0)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            vals = [p.decode() for _, p, *_ in sub.messages]
            if vals and (want is None or vals[-1] == want):
                return vals[-1]
            time.sleep(0.05)
        vals = [p.decode() for _, p, *_ in sub.messages]
        return vals[-1] if vals else None
    finally:
        sub.close()


def test_a_link_that_goes_silent_is_detected_by_keepalive_and_nothing_is_lost(lab):
    up = lab.musqratt("upstream", args=["--max-queued-messages", "0"]).start()
    proxy = lab.proxy(up.port)
    sub = Subscriber("127.0.0.1", up.port, "edge1/#", qos=1)
    edge = lab.musqratt("edge", bridge_table("cloud", proxy.port, RULE, keepalive=2, reconnect_max_ms=500),
                        persistence=True).start()
    edge.wait_log(r"bridge 'cloud': connected to")
    assert publish_numbered("127.0.0.1", edge.port, "load/x", 1000, qos=1) == 1000
    assert sub.wait_count(1000, 20)
    # The link stops carrying anything, in both directions, and stays open.
    proxy.stall()
    stalled_at = time.monotonic()
    assert publish_numbered("127.0.0.1", edge.port, "load/x", 1000, start=1000, qos=1) == 1000
    edge.wait_log(r"bridge 'cloud': link to .* lost: the upstream was silent for 1.5 x keepalive \(2 s\)", timeout=15)
    detected_in = time.monotonic() - stalled_at
    assert detected_in < 8, f"a silent link was noticed only after {detected_in:.1f}s"
    proxy.resume()
    edge.wait_log(r"bridge 'cloud': connected to", count=2, timeout=15)
    assert sub.wait_count(2000, 30)
    sub.wait_quiet(1.0)
    result = count_flow(sub.payloads(), 2000)
    print(f"silence detected in {detected_in:.1f}s: {result}")
    assert result["lost"] == 0 and result["reordered"] == 0
    assert result["duplicated"] <= 100  # at most what was in flight when the link went silent
    sub.close()


def test_an_upstream_that_lost_the_session_gets_everything_unacknowledged_again(lab):
    up = lab.musqratt("upstream", args=["--max-queued-messages", "0"])
    up.start()
    proxy = lab.proxy(up.port)
    edge = lab.musqratt("edge", bridge_table("cloud", proxy.port, RULE, keepalive=30, reconnect_max_ms=500),
                        persistence=True).start()
    edge.wait_log(r"bridge 'cloud': connected to .*new session upstream")
    # Messages go out and are never acknowledged: the link is stalled.
    proxy.stall()
    assert publish_numbered("127.0.0.1", edge.port, "load/x", 500, qos=1) == 500
    assert sys_value(edge.port, "cloud", "queued", want="500") == "500"
    # The upstream restarts empty (no persistence): the bridge's session there is gone.
    up.kill9()
    up.start()
    sub = Subscriber("127.0.0.1", up.port, "edge1/#", qos=1)
    proxy.resume()  # the proxy finds the old upstream connection closed and closes the link
    edge.wait_log(r"bridge 'cloud': connected to .*new session upstream", count=2, timeout=15)
    assert sub.wait_count(500, 20)
    sub.wait_quiet(1.0)
    assert count_flow(sub.payloads(), 500) == {"received": 500, "lost": 0, "duplicated": 0, "reordered": 0}
    assert sys_value(edge.port, "cloud", "queued", want="0") == "0"
    sub.close()


@pytest.mark.parametrize("protocol", ["mqttv311", "mqttv5"])
@pytest.mark.parametrize("upstream_kind", ["mosquitto", "musqratt"])
def test_a_both_rule_on_the_same_filter_at_both_ends_makes_no_loop(lab, upstream_kind, protocol):
    up = (lab.mosquitto("upstream") if upstream_kind == "mosquitto" else lab.musqratt("upstream")).start()
    rule = [{"filter": "loop/#", "direction": "both", "qos": 1}]
    edge = lab.musqratt("edge", bridge_table("cloud", up.port, rule, protocol=protocol),
                        args=["--sys-interval", "1"]).start()
    edge.wait_log(r"bridge 'cloud': connected to")
    at_edge = Subscriber("127.0.0.1", edge.port, "loop/#", qos=1)
    at_up = Subscriber("127.0.0.1", up.port, "loop/#", qos=1)
    # The upstream subscription is in place once a message from there arrives.
    deadline = time.monotonic() + 10
    while not at_edge.messages:
        assert time.monotonic() < deadline
        publish_numbered("127.0.0.1", up.port, "loop/probe", 1, qos=1)
        at_edge.wait_count(1, 0.5)
    at_edge.wait_quiet(0.5)
    at_up.wait_quiet(0.5)
    base_edge, base_up = at_edge.count(), at_up.count()
    assert publish_numbered("127.0.0.1", edge.port, "loop/a", 10, qos=1) == 10
    assert publish_numbered("127.0.0.1", up.port, "loop/b", 10, qos=1) == 10
    at_edge.wait_count(base_edge + 20, 10)
    at_up.wait_count(base_up + 20, 10)
    # A loop would keep them coming: wait well past the round trip.
    at_edge.wait_quiet(2.0)
    at_up.wait_quiet(2.0)
    for sub in (at_edge, at_up):
        msgs = sub.messages[base_edge if sub is at_edge else base_up:]
        for topic in ("loop/a", "loop/b"):
            got = [p for t, p, *_ in msgs if t == topic]
            assert count_flow(got, 10) == {"received": 10, "lost": 0, "duplicated": 0, "reordered": 0}, (topic, got)
    sent = int(sys_value(edge.port, "cloud", "sent"))
    assert sent == 10, f"the bridge sent {sent} messages upstream for 10 published at the edge"
    at_edge.close()
    at_up.close()


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest"])
def test_a_full_buffer_applies_its_policy_and_counts_the_drops(lab, policy):
    up = lab.musqratt("upstream", persistence=True, args=["--max-queued-messages", "0"])
    up.start()
    # Persistent at an upstream with persistence: it misses nothing while either is away.
    sub = Subscriber("127.0.0.1", up.port, "edge1/#", qos=1, client_id="counter", clean=False)
    edge = lab.musqratt("edge", bridge_table("cloud", up.port, RULE, buffer_max_messages=1000, buffer_full=policy,
                                             reconnect_max_ms=500),
                        persistence=True, args=["--persistence-memory-queue", "100", "--sys-interval", "1"]).start()
    edge.wait_log(r"bridge 'cloud': connected to")
    assert up.stop() is None
    edge.wait_log(r"bridge 'cloud': link to .* lost")
    # 1 500 messages for a buffer of 1 000, most of them waiting on disk (memory part 100).
    assert publish_numbered("127.0.0.1", edge.port, "load/x", 1500, qos=1) == 1500
    assert sys_value(edge.port, "cloud", "dropped", want="500") == "500"
    assert sys_value(edge.port, "cloud", "queued") == "1000"
    up.start()
    assert sub.wait_count(1000, 20)
    sub.wait_quiet(1.0)
    got = [int(p) for p in sub.payloads()]
    expected = list(range(500, 1500)) if policy == "drop_oldest" else list(range(0, 1000))
    assert got == expected
    assert sys_value(edge.port, "cloud", "dropped") == "500"
    sub.close()
