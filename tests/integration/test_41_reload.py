"""SIGHUP: a new configuration applied without disconnecting anyone; a broken one refused whole;
keys that need a restart named in the log while the rest still applies."""
import pytest

from configured_broker import CLI, configured_broker  # noqa: F401  (fixture)
from mqtt_helpers import DISCONNECT, PUBACK, Client, RawClient, publish_packet

pytestmark = pytest.mark.musqratt_only

BASE = {"listen": ["127.0.0.1:0"], "log_level": "info", "allow_anonymous": "true"}


def test_publish_rate_limit_applies_to_a_live_connection(configured_broker):
    b = configured_broker(BASE)
    raw = RawClient(b, 5)
    raw.connect("fast")
    for i in range(30):  # no limit yet
        raw.send(publish_packet("t", b"x", qos=0, version=5))
    bystander = Client(b)
    b.reload({**BASE, "max_publish_rate": 5})
    for i in range(50):
        if not raw.try_send(publish_packet("t", b"x", qos=0, version=5)):
            break
    d = raw.expect(DISCONNECT, timeout=5)
    assert d.rc == 0x96  # Message rate too high: the same connection, the new limit
    bystander.subscribe("still/here", 1)  # never disconnected by the reload


def test_queue_limit_applies_to_a_waiting_session(configured_broker):
    b = configured_broker({**BASE, "max_queued_messages": 1000})
    sub = Client(b, client_id="offline-sub", clean=False, session_expiry=600)
    sub.subscribe("q/#", 1)
    sub.disconnect()
    b.reload({**BASE, "max_queued_messages": 5})
    pub = Client(b)
    for i in range(20):
        pub.publish(f"q/{i}", b"m", qos=1)
    again = Client(b, client_id="offline-sub", clean=False, session_expiry=600)
    got = again.take(5)
    again.expect_no_message(0.5)
    assert [m.topic for m in got] == [f"q/{i}" for i in range(5)]


def test_subscription_limit_and_hold_filters_apply_at_once(configured_broker):
    b = configured_broker(BASE)
    c = Client(b)
    c.subscribe("a/1")
    b.reload({**BASE, "max_subscriptions_per_client": 1, "hold_unsubscribed": ["held/#"]})
    c.subscribe("a/2", expect=[0x97])  # Quota exceeded, on the connection made before the reload
    pub = Client(b)
    pub.publish("held/x", b"kept for the first subscriber", qos=1)
    late = Client(b)
    late.subscribe("held/#", 1)
    assert late.take(1)[0].payload == b"kept for the first subscriber"


def test_packet_size_limit_reaches_new_connections_only(configured_broker):
    b = configured_broker({**BASE, "max_packet_size": 100000})
    before = RawClient(b, 5)
    before.connect("before")
    b.reload({**BASE, "max_packet_size": 1000})
    after = RawClient(b, 5)
    after.connect("after")
    big = b"x" * 5000
    # The connection made before the reload was told 100000 in CONNACK: it may still use it.
    before.send(publish_packet("t/big", big, qos=1, pid=1, version=5))
    assert before.expect(PUBACK).rc in (0x00, 0x10)
    # A new one was told 1000 and is held to it.
    after.send(publish_packet("t/big", big, qos=1, pid=1, version=5))
    assert after.expect(DISCONNECT, timeout=5).rc == 0x95  # Packet too large


def test_a_broken_file_is_refused_whole_and_the_old_one_stays(configured_broker):
    b = configured_broker({**BASE, "max_subscriptions_per_client": 1})
    c = Client(b)
    (m, mark) = b.reload('max_subscriptions_per_client = 0\nmax_inflight = "lots"\nnonsense = 1\n',
                         expect=r"SIGHUP: configuration refused \((\d+) error")
    assert m.group(1) == "2"
    log = b.log()[mark:]
    assert f"{b.conf}:2: max_inflight: expected an integer" in log
    assert f"{b.conf}:3: unknown key 'nonsense'" in log
    # The first key of the file was good, but nothing of that file applies.
    c.subscribe("x/1")
    c.subscribe("x/2", expect=[0x97])
    # Unparseable TOML, likewise.
    b.reload("max_subscriptions_per_client = \n", expect=r"SIGHUP: configuration refused")
    c.subscribe("x/3", expect=[0x97])
    # A missing password file is an error too, checked before anything applies.
    b.reload({**BASE, "max_subscriptions_per_client": 0, "password_file": "/nonexistent"},
             expect=r"SIGHUP: configuration refused")
    c.subscribe("x/4", expect=[0x97])
    assert Client(b).connack[0] == 0, "anonymous clients still allowed: the old access tables stay"


def test_restart_keys_are_named_and_the_rest_applies(configured_broker):
    b = configured_broker({**BASE, "threads": 1})
    c = Client(b)
    (_, mark) = b.reload({**BASE, "threads": 3, "persistence": True,
                          "max_subscriptions_per_client": 1, "log_level": "debug"})
    log = b.log()[mark:]
    assert "changed but needing a restart (their running values stay): threads, persistence" in log \
        or "changed but needing a restart (their running values stay): persistence, threads" in log
    c.subscribe("a")
    c.subscribe("b", expect=[0x97])
    # log_level = debug applied: connections are now logged at debug level.
    Client(b)
    b.wait_log(r" debug ", after=mark)


class At:
    """Where a client connects: one listener of a broker."""

    def __init__(self, port):
        self.host = "127.0.0.1"
        self.port = port


def refused(port):
    import socket
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_listeners_added_and_removed_without_dropping_their_connections(configured_broker):
    import urllib.request
    from conftest import free_port
    p1, p2, p_http = free_port(), free_port(), free_port()
    settings = {**BASE, "listen": [f"127.0.0.1:{p1}"], "threads": 2}
    b = configured_broker(settings)
    first = Client(At(p1), client_id="on-the-first")
    first.subscribe("news/#", 1)
    # Added: a second MQTT listener and the HTTP endpoint; the first is kept.
    (_, mark) = b.reload({**settings, "listen": [f"127.0.0.1:{p1}", f"127.0.0.1:{p2}"],
                          "http_listen": f"127.0.0.1:{p_http}"})
    log = b.log()[mark:]
    assert f"SIGHUP: listening on 127.0.0.1:{p2} (mqtt, tcp)" in log
    assert f"SIGHUP: listening on 127.0.0.1:{p_http} (http)" in log
    assert f"listening on 127.0.0.1:{p1}" not in log  # kept, not reopened
    second = Client(At(p2))
    second.publish("news/1", b"through the new listener", qos=1)
    assert first.take(1)[0].payload == b"through the new listener"
    with urllib.request.urlopen(f"http://127.0.0.1:{p_http}/healthz", timeout=5) as r:
        assert r.status == 200
    # Removed: the first listener and the HTTP endpoint. The connection the first accepted stays.
    (_, mark) = b.reload({**settings, "listen": [f"127.0.0.1:{p2}"]})
    log = b.log()[mark:]
    assert f"SIGHUP: stopped listening on 127.0.0.1:{p1} (mqtt, tcp); its connections stay" in log
    assert f"SIGHUP: stopped listening on 127.0.0.1:{p_http} (http)" in log
    assert refused(p1) and refused(p_http)
    second.publish("news/2", b"after the first listener closed", qos=1)
    assert first.take(1)[0].payload == b"after the first listener closed"
    assert not first.disconnected.is_set()
    # The address is free again: a listener can come back on it.
    b.reload({**settings, "listen": [f"127.0.0.1:{p2}", f"127.0.0.1:{p1}"]})
    assert Client(At(p1)).connack[0] == 0


def test_a_listener_that_cannot_open_is_named_and_the_rest_applies(configured_broker):
    import socket
    from conftest import free_port
    p1, p2 = free_port(), free_port()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = taken.getsockname()[1]
    settings = {**BASE, "listen": [f"127.0.0.1:{p1}"]}
    b = configured_broker(settings)
    c = Client(At(p1))
    (_, mark) = b.reload({**settings, "listen": [f"127.0.0.1:{p1}", f"127.0.0.1:{busy}", f"127.0.0.1:{p2}"],
                          "max_subscriptions_per_client": 1})
    log = b.log()[mark:]
    assert f"SIGHUP: listener not opened: 127.0.0.1:{busy} (mqtt, tcp): cannot listen on 127.0.0.1:{busy}" in log
    assert "some not opened" in log
    assert Client(At(p2)).connack[0] == 0
    c.subscribe("a")
    c.subscribe("b", expect=[0x97])  # the limit applied too
    taken.close()


def test_users_added_and_log_destination_moved_without_dropping_anyone(configured_broker, tmp_path):
    import subprocess
    pw = tmp_path / "passwords"
    subprocess.run([CLI, "passwd", str(pw), "alice", "-p", "a"], check=True, capture_output=True)
    settings = {"listen": ["127.0.0.1:0"], "password_file": str(pw)}
    b = configured_broker(settings)
    alice = Client(b, connect=False)
    alice.c.username_pw_set("alice", "a")
    alice.connect()
    subprocess.run([CLI, "passwd", str(pw), "bob", "-p", "b"], check=True, capture_output=True)
    logfile = tmp_path / "moved.log"
    b.log_path = logfile  # where the outcome of the reload will be written
    b.reload({**settings, "log_dest": "file", "log_file": str(logfile), "log_format": "json"})
    bob = Client(b, connect=False)
    bob.c.username_pw_set("bob", "b")
    bob.connect()
    alice.subscribe("hello", 1)
    bob.publish("hello", b"from bob", qos=1)
    assert alice.take(1)[0].payload == b"from bob"
    import json
    import time
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "bob" not in logfile.read_text():
        time.sleep(0.05)
    lines = [json.loads(line) for line in logfile.read_text().splitlines()]
    assert any("'bob'" in entry["message"] and entry["level"] == "info" for entry in lines), lines
