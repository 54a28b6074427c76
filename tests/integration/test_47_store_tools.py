"""musqratt-cli store backup / check: a consistent copy of the persistence database taken while
the broker runs and writes, restorable into a new broker; damaged databases are detected."""
import os
import subprocess
import threading

import pytest

from configured_broker import CLI, configured_broker  # noqa: F401  (fixture)
from mqtt_helpers import Client

pytestmark = pytest.mark.musqratt_only


def _store(*args):
    return subprocess.run([CLI, "store", *args], capture_output=True, text=True, timeout=60)


def test_backup_while_running_then_restore(configured_broker, tmp_path):
    data = tmp_path / "data"
    settings = {"listen": ["127.0.0.1:0"], "persistence": True, "persistence_dir": str(data)}
    b = configured_broker(settings)
    sub = Client(b, client_id="keeper", clean=False, session_expiry=3600)
    sub.subscribe("q/#", 1)
    sub.disconnect()
    pub = Client(b)
    pub.publish("retained/a", b"kept", qos=1, retain=True)
    for i in range(100):
        pub.publish(f"q/{i}", str(i).encode(), qos=1)  # acknowledged: on disk
    # A publisher keeps writing while the copy is taken.
    stop = threading.Event()
    extra = Client(b)

    def keep_publishing():
        i = 0
        while not stop.is_set():
            extra.publish("busy/x", str(i).encode(), qos=1)
            i += 1
    t = threading.Thread(target=keep_publishing)
    t.start()
    try:
        backup = tmp_path / "backup"
        backup.mkdir()
        r = _store("backup", str(data), str(backup))
        assert r.returncode == 0, r.stderr
        assert "integrity ok" in r.stdout
    finally:
        stop.set()
        t.join()
    copy = backup / "musqratt.db"
    assert oct(copy.stat().st_mode & 0o777) == "0o600"
    assert not (backup / "musqratt.db.tmp").exists()
    r = _store("check", str(backup))
    assert r.returncode == 0 and ": ok (" in r.stdout, r.stderr
    # Restore: a new broker on a directory holding only the copy.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    os.rename(copy, restored_dir / "musqratt.db")
    r2 = configured_broker({**settings, "persistence_dir": str(restored_dir)})
    assert "restored 1 session(s)" in r2.log()
    again = Client(r2, client_id="keeper", clean=False, session_expiry=3600)
    got = again.take(100, timeout=10)
    assert [m.payload for m in got] == [str(i).encode() for i in range(100)]
    late = Client(r2)
    late.subscribe("retained/#", 1)
    assert late.take(1)[0].payload == b"kept"


def test_check_finds_damage_and_backup_refuses_to_copy_it(configured_broker, tmp_path):
    data = tmp_path / "data"
    b = configured_broker({"listen": ["127.0.0.1:0"], "persistence": True, "persistence_dir": str(data)})
    pub = Client(b)
    for i in range(300):
        pub.publish(f"r/{i}", b"x" * 500, qos=1, retain=True)
    assert b.stop() == 0  # closed cleanly: everything in the database file
    assert not (data / "musqratt.db-wal").exists()
    r = _store("check", str(data))
    assert r.returncode == 0, r.stderr
    assert not (data / "musqratt.db-wal").exists() and not (data / "musqratt.db-shm").exists(), \
        "checking a quiescent database leaves no file behind (root-owned ones would lock the broker out)"
    db = data / "musqratt.db"
    raw = bytearray(db.read_bytes())
    assert len(raw) > 8 * 4096
    for off in range(3 * 4096, 6 * 4096, 7):  # scribble over b-tree pages
        raw[off] = 0x5A
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "musqratt.db").write_bytes(bytes(raw))
    r = _store("check", str(damaged))
    assert r.returncode == 1
    assert "integrity check failed" in r.stderr or "malformed" in r.stderr, r.stderr
    out = tmp_path / "out.db"
    r = _store("backup", str(damaged), str(out))
    assert r.returncode == 1 and not out.exists() and not (tmp_path / "out.db.tmp").exists()


def test_usage_and_missing_database(tmp_path):
    assert _store().returncode == 1
    r = _store("check", str(tmp_path))
    assert r.returncode == 1 and "no such database" in r.stderr
