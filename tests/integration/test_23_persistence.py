"""Persistence: acknowledged QoS 1/2 messages survive kill -9, exactly once at QoS 2."""
import random
import sqlite3
import threading

import pytest

from mqtt_helpers import Client, Closed, PacketTypes, RawClient, props, wait_until

pytestmark = pytest.mark.musqratt_only


def _args(data_dir, *extra):
    return ["--persistence", "true", "--persistence-dir", str(data_dir), *extra]


def _kill(request, b):
    """SIGKILL, and tell the harness this death was intended."""
    b.proc.kill()
    b.proc.wait()
    request.node._brokers.remove(b)


def _drain(c, publisher, topic, qos=1, timeout=20.0):
    """Every message the reconnected session `c` had waiting: those that arrive before a marker
    published to `topic` now, which queues behind all of them (in memory or on disk)."""
    return c.take_until_marker(publisher, topic, qos=qos, timeout=timeout)


def _will_stored(data_dir, client_id):
    """Whether the broker's store has committed a pending will for client_id."""
    db = sqlite3.connect(f"file:{data_dir / 'musqratt.db'}?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM wills WHERE client_id=?", (client_id,)).fetchone()[0] > 0
    except sqlite3.OperationalError:  # not created yet
        return False
    finally:
        db.close()


@pytest.mark.parametrize("sync", ["always", "batch"])
def test_acknowledged_messages_survive_repeated_kill_9(broker_factory, request, tmp_path, sync):
    data = tmp_path / "data"
    args = _args(data, "--persistence-sync", sync)
    b = broker_factory(extra_args=args)
    sub = Client(b, version=5, client_id="fault-sub", clean=False, session_expiry=3600)
    sub.subscribe("f/q1", 1)
    sub.subscribe("f/q2", 2)
    sub.disconnect()

    acked = {1: [], 2: []}
    seq = 0
    rng = random.Random(7)
    for cycle in range(4):
        pub = RawClient(b, 5, timeout=2.0)
        pub.connect(f"fault-pub-{cycle}")
        killer = threading.Timer(rng.uniform(0.3, 0.8), _kill, (request, b))
        killer.start()
        try:
            while True:
                seq += 1
                qos = 1 if seq % 2 else 2
                pub.publish(f"f/q{qos}", str(seq).encode(), qos=qos)
                acked[qos].append(seq)
        except (Closed, TimeoutError, OSError, AssertionError):
            pass
        killer.join()
        b = broker_factory(extra_args=args)

    assert len(acked[1]) > 20 and len(acked[2]) > 20, acked
    back = Client(b, version=5, client_id="fault-sub", clean=False, session_expiry=3600)
    assert back.session_present
    got = _drain(back, Client(b, version=5), "f/q2", qos=2)  # after the QoS 1 and 2 ones
    q1 = [int(m.payload) for m in got if m.topic == "f/q1"]
    q2 = [int(m.payload) for m in got if m.topic == "f/q2"]
    missing1 = sorted(set(acked[1]) - set(q1))
    missing2 = sorted(set(acked[2]) - set(q2))
    assert not missing1, f"{len(missing1)} acknowledged QoS 1 messages lost, e.g. {missing1[:10]}"
    assert not missing2, f"{len(missing2)} acknowledged QoS 2 messages lost, e.g. {missing2[:10]}"
    assert len(q2) == len(set(q2)), "a QoS 2 message was delivered twice"
    assert q1 == sorted(q1) and q2 == sorted(q2), "order per publisher not kept"


def test_retained_held_and_session_state_survive_restart(broker_factory, request, tmp_path):
    args = _args(tmp_path / "data", "--hold-unsubscribed", "jobs/#")
    b = broker_factory(extra_args=args)
    Client(b).publish("cfg/a", b"retained-a", qos=1, retain=True)
    Client(b, version=4).publish("jobs/1", b"held-1", qos=1)
    Client(b, version=4).publish("jobs/1", b"held-2", qos=1)
    s = Client(b, version=4, client_id="v311-persistent", clean=False)
    s.subscribe("news/#", 1)
    s.disconnect()
    Client(b).publish("news/x", b"queued", qos=1)
    _kill(request, b)

    b = broker_factory(extra_args=args)
    r = Client(b)
    r.subscribe("cfg/#", 1)
    assert r.take(1)[0].payload == b"retained-a"
    w = Client(b)
    w.subscribe("jobs/#", 1)
    assert [m.payload for m in w.take(2)] == [b"held-1", b"held-2"]
    s2 = Client(b, version=4, client_id="v311-persistent", clean=False)
    assert s2.session_present
    assert s2.take(1)[0].payload == b"queued"
    # The subscription itself came back too.
    Client(b).publish("news/y", b"after", qos=1)
    assert s2.take(1)[0].payload == b"after"


def test_delayed_will_survives_restart(broker_factory, request, tmp_path):
    args = _args(tmp_path / "data")
    b = broker_factory(extra_args=args)
    will = {"topic": "wills/dev", "payload": b"gone", "qos": 1,
            "props": props(PacketTypes.WILLMESSAGE, WillDelayInterval=2)}
    dev = Client(b, version=5, client_id="dev-will", session_expiry=60, will=will)
    dev.kill()  # abnormal end: the will is pending for 2 s
    wait_until(lambda: _will_stored(tmp_path / "data", "dev-will"), timeout=5,
               what="the pending will committed to the store")
    _kill(request, b)
    b = broker_factory(extra_args=args)
    watcher = Client(b)
    watcher.subscribe("wills/#", 1)
    got = watcher.take(1, timeout=5)
    assert got[0].payload == b"gone"


def test_offline_session_restored_by_a_restart_still_expires(broker_factory, request, tmp_path):
    """A session that was offline when the broker stopped is watched for expiry again after the
    restart, from the time it went offline (not from the restart)."""
    args = _args(tmp_path / "data")
    b = broker_factory(extra_args=args)
    short = Client(b, version=5, client_id="restored-short", clean=False, session_expiry=3)
    short.subscribe("rs/#", 1)
    short.disconnect()
    long = Client(b, version=5, client_id="restored-long", clean=False, session_expiry=3600)
    long.subscribe("rl/#", 1)
    long.disconnect()
    b.wait_client_gone("restored-long")
    b.stop()
    request.node._brokers.remove(b)

    b = broker_factory(extra_args=args)
    b.wait_session_expired("restored-short", timeout=6)
    assert "session 'restored-long' expired" not in b.log()
    again = Client(b, version=5, client_id="restored-short", clean=False, session_expiry=3)
    assert not again.session_present
    kept = Client(b, version=5, client_id="restored-long", clean=False, session_expiry=3600)
    assert kept.session_present


def test_clean_session_leaves_nothing_behind(broker_factory, request, tmp_path):
    data = tmp_path / "data"
    b = broker_factory(extra_args=_args(data))
    c = Client(b, version=5, client_id="transient", clean=True)
    c.subscribe("t/#", 1)
    c.disconnect()
    p = Client(b, version=5, client_id="persistent", clean=True, session_expiry=60)
    p.subscribe("t/#", 1)
    p.disconnect(reason=0, properties=props(PacketTypes.DISCONNECT, SessionExpiryInterval=0))
    b.wait_client_gone("persistent")
    b.stop()
    request.node._brokers.remove(b)
    db = sqlite3.connect(data / "musqratt.db")
    assert db.execute("SELECT client_id, expiry, disconnected_at FROM sessions").fetchall() == []
    assert db.execute("SELECT count(*) FROM subscriptions").fetchone()[0] == 0


def test_corrupt_store_is_refused_with_a_clear_message(tmp_path):
    import subprocess
    from conftest import MUSQRATT_BIN
    data = tmp_path / "data"
    data.mkdir()
    (data / "musqratt.db").write_bytes(b"this is not a database" * 100)
    r = subprocess.run([MUSQRATT_BIN, "--listen", "127.0.0.1:0", *_args(data)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "persistence" in r.stderr and "not a database" in r.stderr


def _page_args(data, limit):
    return _args(data, "--persistence-memory-queue", str(limit), "--max-queued-messages", "100000")


def test_queue_beyond_memory_limit_is_read_back_from_disk_in_order(broker_factory, tmp_path):
    b = broker_factory(extra_args=_page_args(tmp_path / "data", 10))
    sub = Client(b, version=5, client_id="pager", clean=False, session_expiry=3600)
    sub.subscribe("page/#", 1)
    sub.disconnect()
    pub = RawClient(b, 5)
    pub.connect("page-pub")
    for i in range(300):  # 10 stay in memory, 290 wait on disk only
        pub.publish("page/t", str(i).encode(), qos=1)
    back = Client(b, version=5, client_id="pager", clean=False, session_expiry=3600)
    got = [int(m.payload) for m in _drain(back, pub, "page/t")]
    assert got == list(range(300))


def test_restart_reads_one_page_and_leaves_the_rest_on_disk(broker_factory, request, tmp_path):
    data = tmp_path / "data"
    b = broker_factory(extra_args=_page_args(data, 20))
    sub = Client(b, version=5, client_id="pager", clean=False, session_expiry=3600)
    sub.subscribe("page/#", 1)
    sub.disconnect()
    pub = RawClient(b, 5)
    pub.connect("page-pub")
    for i in range(500):
        pub.publish("page/t", str(i).encode(), qos=1)
    _kill(request, b)

    b = broker_factory(extra_args=_page_args(data, 20))
    assert "with 20 queued/in-flight message(s) in memory and 480 waiting on disk" in b.log()
    # Messages published after the restart queue behind those on disk.
    pub = RawClient(b, 5)
    pub.connect("page-pub-2")
    for i in range(500, 510):
        pub.publish("page/t", str(i).encode(), qos=1)
    back = Client(b, version=5, client_id="pager", clean=False, session_expiry=3600)
    assert back.session_present
    got = [int(m.payload) for m in _drain(back, pub, "page/t")]
    assert got == list(range(510))
