"""What a SIGHUP reload takes away, it takes away from connected clients and queued messages too:
a user removed from the password file (or whose password changed) is disconnected at once
(MQTT 5: DISCONNECT 0x87 Not authorized), and messages already queued for a client the new ACL
no longer lets read them are not delivered (ACLs are checked per delivered message)."""
import os
import signal
import subprocess
import time

import pytest

from conftest import REPO_ROOT
from mqtt_helpers import CONNACK, DISCONNECT, PUBLISH, RawClient, connect_packet, unique_id

pytestmark = pytest.mark.musqratt_only

CLI = os.environ.get("MUSQRATT_CLI") or str(REPO_ROOT / "build" / "bin" / "musqratt-cli")


def _passwd(path, user, password=None, delete=False):
    args = [CLI, "passwd", str(path), user] + (["-D"] if delete else ["-p", password])
    subprocess.run(args, check=True, capture_output=True)


def _reload(b):
    before = b.log().count("SIGHUP: configuration reloaded")
    os.kill(b.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while b.log().count("SIGHUP: configuration reloaded") == before:
        assert time.monotonic() < deadline, "no reload"
        time.sleep(0.02)


def _login(b, version, user, password, client_id=None, clean=True):
    c = RawClient(b, version)
    c.send(connect_packet(client_id or unique_id(user), version=version, clean=clean, username=user,
                          password=password.encode()))
    assert c.expect(CONNACK).rc == 0
    return c


@pytest.fixture
def secured(broker_factory, tmp_path):
    pw = tmp_path / "passwords"
    for user in ("alice", "bob", "carol"):
        _passwd(pw, user, user + "-pw")
    acl = tmp_path / "acl"
    acl.write_text("user alice\ntopic read a/#\ntopic read b/#\nuser bob\ntopic write #\n"
                   "user carol\ntopic readwrite #\n")
    b = broker_factory(extra_args=["--password-file", str(pw), "--acl-file", str(acl)])
    b.pw, b.acl = pw, acl
    return b


@pytest.mark.parametrize("version", [5, 4])
def test_removed_user_is_disconnected_at_reload(secured, version):
    alice = _login(secured, version, "alice", "alice-pw")
    carol = _login(secured, version, "carol", "carol-pw")
    _passwd(secured.pw, "alice", delete=True)
    t0 = time.monotonic()
    _reload(secured)
    got = alice.wait_closed(timeout=2)
    elapsed = time.monotonic() - t0
    if version == 5:
        assert [p.type for p in got] == [DISCONNECT] and got[0].rc == 0x87  # Not authorized
    print(f"MQTT {version}: disconnected {elapsed * 1000:.0f} ms after SIGHUP")
    assert elapsed < 1.0, f"disconnected {elapsed:.2f} s after the reload"
    # Others stay.
    carol.publish("x/y", b"still here", qos=1)
    assert "credentials withdrawn by a reload" in secured.log()


def test_changed_password_disconnects_and_new_password_connects(secured):
    bob = _login(secured, 5, "bob", "bob-pw")
    _passwd(secured.pw, "bob", "rotated")
    _reload(secured)
    got = bob.wait_closed(timeout=2)
    assert got and got[0].type == DISCONNECT and got[0].rc == 0x87
    _login(secured, 5, "bob", "rotated").publish("x", b"ok", qos=1)


def test_queued_messages_are_not_delivered_once_the_acl_forbids_reading_them(secured):
    alice = _login(secured, 4, "alice", "alice-pw", client_id="alice-offline", clean=False)
    alice.subscribe("a/#", 1)
    alice.subscribe("b/#", 1)
    alice.disconnect()
    bob = _login(secured, 4, "bob", "bob-pw")
    for i in range(3):
        bob.publish(f"a/{i}", b"secret", qos=1)
    bob.publish("b/0", b"public", qos=1)
    # alice may no longer read a/#, while her messages wait.
    secured.acl.write_text("user alice\ntopic read b/#\nuser bob\ntopic write #\n")
    _reload(secured)
    alice = _login(secured, 4, "alice", "alice-pw", client_id="alice-offline", clean=False)
    p = alice.recv_publish()
    assert (p.topic, p.payload) == ("b/0", b"public")
    alice.expect_nothing(0.5)
    assert "no longer lets it read them" in secured.log()
