"""Password files written by the real mosquitto_passwd (both its formats) and Mosquitto ACL files
(per-user sections, patterns with %u/%c, `topic deny`) accepted as they are; an unknown user
costs as long to refuse as a known user with a wrong password."""
import shutil
import statistics
import subprocess
import time

import pytest

from configured_broker import CLI, configured_broker  # noqa: F401  (fixture)
from mqtt_helpers import Client, RawClient, connect_packet, CONNACK

pytestmark = [pytest.mark.musqratt_only,
              pytest.mark.skipif(not shutil.which("mosquitto_passwd"), reason="needs mosquitto_passwd (Debian mosquitto)")]


def _mosquitto_passwd(path, user, password, *hash_flags, create=False):
    args = ["mosquitto_passwd", *hash_flags, *(["-c"] if create else []), "-b", str(path), user, password]
    subprocess.run(args, check=True, capture_output=True)


def _client(b, user, password, expect_rc=0, client_id=None, version=5):
    c = Client(b, client_id=client_id, version=version, connect=False)
    c.c.username_pw_set(user, password)
    c.connect(expect_rc=expect_rc)
    return c


@pytest.fixture
def mosquitto_files(tmp_path):
    pw = tmp_path / "passwd"
    _mosquitto_passwd(pw, "alice", "pbkdf2 secret", create=True)            # $7$, Mosquitto 2.0's default
    _mosquitto_passwd(pw, "roger", "sha512 secret", "-H", "sha512")          # $6$, Mosquitto 1.6's
    _mosquitto_passwd(pw, "bob", "builder", "-H", "sha512-pbkdf2")
    acl = tmp_path / "acl"
    acl.write_text("# Mosquitto ACL file\n"
                   "topic read public/#\n"
                   "\n"
                   "user alice\n"
                   "topic readwrite house/#\n"
                   "topic deny house/safe/#\n"
                   "topic read $SYS/#\n"
                   "\n"
                   "user roger\n"
                   "topic foo/bar\n"
                   "\n"
                   "user bob\n"
                   "topic write house/garage/#\n"
                   "\n"
                   "pattern readwrite users/%u/#\n"
                   "pattern write $SYS/broker/connection/%c/state\n")
    return pw, acl


def test_mosquitto_passwd_files_as_they_are(configured_broker, mosquitto_files):
    pw, acl = mosquitto_files
    text = pw.read_text()
    assert "alice:$7$" in text and "roger:$6$" in text and "bob:$7$" in text
    b = configured_broker({"listen": ["127.0.0.1:0"], "password_file": str(pw), "acl_file": str(acl)})
    assert "1 user(s) with Mosquitto's old $6$ hash" in b.log()
    _client(b, "alice", "pbkdf2 secret")
    _client(b, "roger", "sha512 secret")
    _client(b, "bob", "builder", version=4)
    _client(b, "alice", "sha512 secret", expect_rc=0x86)
    _client(b, "roger", "pbkdf2 secret", expect_rc=4, version=4)
    _client(b, "nobody", "x", expect_rc=0x86)


def test_mosquitto_acl_with_deny_and_patterns(configured_broker, mosquitto_files):
    pw, acl = mosquitto_files
    b = configured_broker({"listen": ["127.0.0.1:0"], "password_file": str(pw), "acl_file": str(acl)})
    alice = _client(b, "alice", "pbkdf2 secret")
    alice.subscribe("house/#", 1)           # allowed: the deny covers only part of it
    alice.subscribe("house/safe/#", 1, expect=[0x87])  # covered by the deny: refused
    alice.subscribe("users/alice/#", 1)
    bob = _client(b, "bob", "builder")
    bob.publish("house/garage/door", b"open", qos=1)
    bob.publish("house/safe/door", b"not for alice", qos=1)  # bob may write it; alice may not read it
    bob.publish("users/alice/note", b"no", qos=1)            # bob's pattern is users/bob/#
    got = alice.take(1)
    assert got[0].topic == "house/garage/door"
    alice.expect_no_message(0.4)
    alice.publish("house/safe/code", b"1234", qos=1)          # denied publish: dropped (5.0: 0x87)
    alice.publish("users/alice/diary", b"mine", qos=1)
    assert [m.topic for m in alice.take(1)] == ["users/alice/diary"]
    assert "publish to 'house/safe/code' denied by ACL" in b.log()
    roger = _client(b, "roger", "sha512 secret", client_id="bridge-7")
    roger.subscribe("foo/bar", 1)
    roger.subscribe("house/#", 1, expect=[0x87])
    # pattern with %c: a client id holding a wildcard never widens it
    _client(b, "roger", "sha512 secret", client_id="+").subscribe("users/+/#", 1, expect=[0x87])


def test_reload_picks_up_a_changed_mosquitto_acl(configured_broker, mosquitto_files):
    import re
    pw, acl = mosquitto_files
    b = configured_broker({"listen": ["127.0.0.1:0"], "password_file": str(pw), "acl_file": str(acl)})
    alice = _client(b, "alice", "pbkdf2 secret")
    alice.subscribe("house/#", 1)
    acl.write_text(acl.read_text().replace("topic deny house/safe/#", "topic deny house/#"))
    b.reload()
    alice.subscribe("house/kitchen", 1, expect=[0x87])
    bob = _client(b, "bob", "builder")
    bob.publish("house/garage/door", b"now denied to alice at delivery", qos=1)
    alice.expect_no_message(0.4)
    assert re.search(r"SIGHUP: configuration reloaded", b.log())


def _refusal_ms(b, user, password, i):
    raw = RawClient(b, 5)
    t = time.perf_counter()
    raw.send(connect_packet(f"timing-{user}-{i}", version=5, username=user, password=password.encode()))
    assert raw.expect(CONNACK).rc == 0x86
    ms = (time.perf_counter() - t) * 1000
    raw.close()
    return ms


def test_unknown_users_take_as_long_to_refuse_as_wrong_passwords(configured_broker, tmp_path):
    # Our own hash (20 000 rounds, ~10 ms): the difference the check must hide is large.
    pw = tmp_path / "pw"
    for user in ("alice", "bob", "carol"):
        subprocess.run([CLI, "passwd", str(pw), user, "-p", "right"], check=True, capture_output=True)
    # Thirty failures from one address: without auth_backoff_failures = 0 the back-off would
    # hold the later checks back (or refuse them unchecked) and there would be nothing to time.
    b = configured_broker({"listen": ["127.0.0.1:0"], "password_file": str(pw), "auth_backoff_failures": 0})
    # Interleaved, so a change in the machine's load hits both alike.
    known, unknown = [], []
    for i in range(15):
        known.append(_refusal_ms(b, "alice", "wrong", i))
        unknown.append(_refusal_ms(b, "mallory", "wrong", i))
    k, u = statistics.median(known), statistics.median(unknown)
    assert k > 2, k
    # Before: about 11 ms against 0.1 ms (a factor of 100); now the same work either way.
    assert 0.4 * k < u < 2.5 * k, (k, u)
