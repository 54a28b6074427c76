"""Password file, anonymous policy, ACL, SIGHUP reload."""
import os
import re
import time
import signal
import subprocess

import pytest

from conftest import MUSQRATT_BIN, REPO_ROOT
from mqtt_helpers import CONNACK, PUBACK, Client, RawClient, connect_packet, publish_packet

pytestmark = pytest.mark.musqratt_only

CLI = os.environ.get("MUSQRATT_CLI") or str(REPO_ROOT / "build" / "bin" / "musqratt-cli")


def _passwd(path, user, password):
    subprocess.run([CLI, "passwd", str(path), user, "-p", password], check=True, capture_output=True)


@pytest.fixture
def secured(broker_factory, tmp_path):
    pw = tmp_path / "passwords"
    _passwd(pw, "alice", "wonderland")
    _passwd(pw, "bob", "builder")
    acl = tmp_path / "acl"
    acl.write_text("user alice\n"
                   "topic readwrite house/#\n"
                   "topic read public/#\n"
                   "user bob\n"
                   "topic write house/garage/#\n"
                   "pattern readwrite users/%u/#\n"
                   "pattern read devices/%c/config\n")
    b = broker_factory(extra_args=["--password-file", str(pw), "--acl-file", str(acl)])
    b.pw, b.acl = pw, acl
    return b


def _client(b, user, password, version=5, client_id=None, expect_rc=0):
    c = Client(b, version=version, client_id=client_id, connect=False)
    c.c.username_pw_set(user, password)
    c.connect(expect_rc=expect_rc)
    return c


@pytest.mark.parametrize("version,rc", [(5, 0x87), (4, 5)])
def test_anonymous_refused_with_password_file(secured, version, rc):
    raw = RawClient(secured, version)
    raw.connect("anon", expect_rc=rc)


@pytest.mark.parametrize("version,rc", [(5, 0x86), (4, 4)])
def test_bad_password_refused(secured, version, rc):
    _client(secured, "alice", "wrong", version=version, expect_rc=rc)
    _client(secured, "mallory", "x", version=version, expect_rc=rc)


def test_good_password_and_acl_publish_denial(secured):
    alice = _client(secured, "alice", "wonderland")
    alice.subscribe("house/#", 1)
    info = alice.c.publish("elsewhere/x", b"no", 1)
    info.wait_for_publish(3)
    alice.publish("house/kitchen", b"yes", qos=1)
    got = alice.take(1)
    assert got[0].topic == "house/kitchen"
    assert "publish to 'elsewhere/x' denied by ACL" in secured.log()


def test_denied_publish_gets_0x87_in_v5(secured):
    # paho 1.6 does not expose PUBACK reason codes: a raw client reads them.
    raw = RawClient(secured, 5)
    raw.send(connect_packet("raw-bob", version=5, username="bob", password=b"builder"))
    assert raw.expect(CONNACK).rc == 0
    raw.send(publish_packet("house/kitchen", b"not allowed for bob", qos=1, pid=1, version=5))
    ack = raw.expect(PUBACK)
    assert ack.rc == 0x87
    assert ack.props.get(0x1F) == "not authorized"  # Reason String
    raw.send(publish_packet("house/garage/door", b"allowed", qos=1, pid=2, version=5))
    assert raw.expect(PUBACK).rc in (0x00, 0x10)


def test_no_reason_string_when_problem_information_is_refused(secured):
    raw = RawClient(secured, 5)
    raw.send(connect_packet("raw-bob2", version=5, username="bob", password=b"builder",
                            props=[(0x17, 0)]))  # Request Problem Information = 0
    assert raw.expect(CONNACK).rc == 0
    raw.send(publish_packet("house/kitchen", b"x", qos=1, pid=1, version=5))
    ack = raw.expect(PUBACK)
    assert ack.rc == 0x87 and not ack.props.has(0x1F)  # [MQTT-3.1.2-29]


@pytest.mark.parametrize("version,code", [(5, 0x87), (4, 0x80)])
def test_denied_subscription(secured, version, code):
    bob = _client(secured, "bob", "builder", version=version)
    granted = bob.subscribe("house/#", 1, expect=[code])
    assert granted == [code]


def test_wide_filter_never_leaks_denied_topics(secured):
    """alice may read house/# and public/#; a '#'-style wildcard that is allowed by pattern
    rules still only delivers what read rules allow."""
    alice = _client(secured, "alice", "wonderland", client_id="alice-dev")
    alice.subscribe("users/alice/#", 1)
    bob = _client(secured, "bob", "builder")
    bob.publish("users/bob/inbox", b"bob's own", qos=1)
    bob.publish("users/alice/inbox", b"to alice", qos=1)  # bob may not write there
    alice.expect_only_marker(alice, "users/alice/inbox")  # after bob's was acknowledged
    alice.publish("users/alice/inbox", b"note to self", qos=1)
    assert alice.take(1)[0].payload == b"note to self"


def test_client_id_pattern(secured):
    alice = _client(secured, "alice", "wonderland", client_id="sensor-7")
    alice.subscribe("devices/sensor-7/config", 1)
    alice.subscribe("devices/sensor-8/config", 1, expect=[0x87])


def test_sighup_reloads_passwords_and_acl(secured):
    _client(secured, "carol", "c4rol", expect_rc=0x86)
    _passwd(secured.pw, "carol", "c4rol")
    secured.acl.write_text(secured.acl.read_text() + "user carol\ntopic readwrite carol/#\n")
    keep = _client(secured, "alice", "wonderland")
    keep.subscribe("house/#", 1)
    os.kill(secured.pid, signal.SIGHUP)
    secured.wait_log("reloaded", timeout=3)
    carol = _client(secured, "carol", "c4rol")
    carol.subscribe("carol/#", 1)
    carol.publish("carol/x", b"hi", qos=1)
    assert carol.take(1)[0].payload == b"hi"
    # The existing connection was not dropped by the reload.
    keep.publish("house/hall", b"still here", qos=1)
    assert keep.take(1)[0].payload == b"still here"


def _run_broker(args, timeout=3):
    return subprocess.run([MUSQRATT_BIN, *args], capture_output=True, text=True, timeout=timeout)


def test_non_loopback_listener_without_auth_refuses_to_start():
    r = _run_broker(["--listen", "0.0.0.0:0"])
    assert r.returncode == 2
    assert "not on loopback" in r.stderr


def test_non_loopback_listener_with_explicit_anonymous_starts(tmp_path):
    p = subprocess.Popen([MUSQRATT_BIN, "--listen", "0.0.0.0:0", "--allow-anonymous", "true"],
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()
        while line and "listening on" not in line:
            line = p.stderr.readline()
        assert "listening on 0.0.0.0:" in line
    finally:
        p.terminate()
        p.wait(5)


@pytest.mark.parametrize("version,rc", [(5, 0x86), (4, 4)])
def test_a_wrong_password_does_not_take_a_session_over(secured, version, rc):
    """Only a client that authenticates may make the holder of a client id leave: a CONNECT
    with that id and a wrong password is refused, and the holder keeps its connection."""
    holder = RawClient(secured, version)
    holder.send(connect_packet("held-id", version=version, clean=False, username="alice", password=b"wonderland"))
    assert holder.expect(CONNACK).rc == 0
    intruder = RawClient(secured, version)
    intruder.send(connect_packet("held-id", version=version, clean=False, username="alice", password=b"guess"))
    assert intruder.expect(CONNACK).rc == rc
    holder.send(publish_packet("house/kitchen", b"still here", qos=1, pid=7, version=version))
    assert holder.expect(PUBACK).pid == 7  # the holder was not disconnected


def test_a_flood_of_refused_connections_does_not_flood_the_log(secured):
    """Refusals are rate-limited per kind (log_rate_burst 50, then log_rate_limit 10/s): 600
    anonymous CONNECTs refused in a burst leave a bounded number of lines, and a summary says
    how many were held back."""
    for _ in range(600):
        RawClient(secured, 4).connect("anon-flood", expect_rc=5)
    lines = [l for l in secured.log().splitlines() if "refused connection from" in l]
    assert 50 <= len(lines) <= 200, f"{len(lines)} refusal lines for 600 refusals"
    # The summary comes within about ten seconds of the first line held back.
    deadline = time.monotonic() + 20
    while not re.search(r"suppressed \d+ similar messages \(connect\.refused\)", secured.log()):
        assert time.monotonic() < deadline, "no summary of the suppressed lines"
        time.sleep(0.2)
    RawClient(secured, 4).connect("anon-after", expect_rc=5)  # refusals are logged again
