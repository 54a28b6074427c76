"""Load on a multi-threaded broker: concurrent publishers and wildcard subscribers; no loss,
no duplicates at QoS 2, per-publisher order per QoS level [MQTT-4.6.0-6]."""
import collections
import threading
import time

import pytest

from mqtt_helpers import Client, RawClient, assert_healthy, drain_shared_group, unique_id

N_PUB = 10
N_MSG = 500  # per publisher, alternating QoS 1 and QoS 2


def _publisher(broker, idx, errors, ready):
    try:
        try:
            c = Client(broker, version=5 if idx % 2 else 4, client_id=unique_id(f"pub{idx}"))
        except BaseException:
            ready.abort()  # the others do not wait for this one
            raise
        ready.wait()  # every publisher connected: they start together
        infos = []
        for seq in range(N_MSG):
            qos = 1 if seq % 2 == 0 else 2
            infos.append(c.publish(f"load/p{idx}/q{qos}", f"{idx}:{seq}".encode(), qos=qos, wait=False))
        for info in infos:
            info.wait_for_publish(60)
            if not info.is_published():
                errors.append(f"publisher {idx}: message {info.mid} not acknowledged")
                break
        c.disconnect()
    except Exception as e:  # reported by the main thread
        errors.append(f"publisher {idx}: {e!r}")


def _expected(filter_name):
    out = collections.defaultdict(list)
    for idx in range(N_PUB):
        for seq in range(N_MSG):
            qos = 1 if seq % 2 == 0 else 2
            if filter_name == "all" or filter_name == f"q{qos}":
                out[(idx, qos)].append(seq)
    return out


@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_publishers_and_subscribers(broker_factory, threads):
    b = broker_factory(threads=threads)
    subs = [
        ("all", Client(b, version=5), "load/#", 2),
        ("all", Client(b, version=4), "load/#", 2),
        ("all", Client(b, version=5), "load/+/+", 2),
        ("q2", Client(b, version=5), "load/+/q2", 2),
        ("q1", Client(b, version=4), "+/+/q1", 1),
    ]
    for _, c, flt, qos in subs:
        c.subscribe(flt, qos)
    shared = [Client(b, version=5) for _ in range(3)]
    for c in shared:
        c.subscribe("$share/load/load/#", 2)
    errors = []
    ready = threading.Barrier(N_PUB + 1, timeout=20)
    pubs = [threading.Thread(target=_publisher, args=(b, i, errors, ready)) for i in range(N_PUB)]
    for t in pubs:
        t.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass  # a publisher could not connect: reported through errors
    t0 = time.monotonic()
    for t in pubs:
        t.join(90)
    assert not errors, errors
    print(f"published {N_PUB * N_MSG} messages in {time.monotonic() - t0:.1f}s")
    # Markers after the last acknowledged message: everything routed before them (a loss shows
    # as a gap, a duplicate as a second copy) has arrived once they have.
    end = Client(b, version=5)
    end.publish("load/end/q1", b"end", qos=1)
    end.publish("load/end/q2", b"end", qos=2)
    for kind, c, flt, qos in subs:
        want = _expected(kind)
        markers = 2 if kind == "all" else 1
        c.wait_for(lambda m: m.payload == b"end", count=markers,
                   timeout=max(10, 60 - (time.monotonic() - t0)), what=f"{flt}: end markers")
        streams = collections.defaultdict(list)
        for m in [m for m in list(c.messages) if m.payload != b"end"]:
            idx, seq = (int(x) for x in m.payload.decode().split(":"))
            pub_qos = 1 if seq % 2 == 0 else 2
            assert m.topic == f"load/p{idx}/q{pub_qos}"
            assert m.qos == min(pub_qos, qos)
            streams[(idx, pub_qos)].append(seq)
        for key, seqs in want.items():
            got = streams.get(key, [])
            assert set(got) == set(seqs), f"{flt}: stream {key} lost {sorted(set(seqs) - set(got))[:10]}"
            if min(key[1], qos) == 2:
                assert len(got) == len(seqs), f"{flt}: duplicates at QoS 2 in stream {key}"
            first_seen = list(dict.fromkeys(got))
            assert first_seen == seqs, f"{flt}: stream {key} out of order"
    # the shared group: every message to exactly one member, each member's share in order
    want = _expected("all")
    for c in shared:
        with c.lock:
            c.messages[:] = [m for m in c.messages if m.payload != b"end"]
    drain_shared_group(shared, end, "load/end/q2", qos=2, timeout=30)
    union = collections.defaultdict(list)
    for c in shared:
        mine = collections.defaultdict(list)
        for m in list(c.messages):
            idx, seq = (int(x) for x in m.payload.decode().split(":"))
            mine[(idx, 1 if seq % 2 == 0 else 2)].append(seq)
        for key, seqs in mine.items():
            assert seqs == sorted(seqs), f"shared member: stream {key} out of order"
            union[key] += seqs
    for key, seqs in want.items():
        got = union.get(key, [])
        assert set(got) == set(seqs), f"shared group: stream {key} lost {sorted(set(seqs) - set(got))[:10]}"
        if key[1] == 2:
            assert len(got) == len(seqs), f"shared group: duplicates at QoS 2 in stream {key}"
    assert all(c.messages for c in shared), [len(c.messages) for c in shared]
    print(f"all delivered after {time.monotonic() - t0:.1f}s")
    assert_healthy(b)


@pytest.mark.parametrize("threads", [2, 4])
def test_many_connections_churn(broker_factory, threads):
    """Clients connecting, subscribing, publishing and leaving from several threads at once."""
    b = broker_factory(threads=threads)
    watcher = Client(b, version=5)
    watcher.subscribe("churn/#", 1)
    errors = []

    def worker(w):
        try:
            for i in range(15):
                c = RawClient(b, 5 if (w + i) % 2 else 4)
                c.connect(unique_id(f"churn{w}"))
                c.subscribe(f"churn/{w}/{i}", 1)
                c.publish(f"churn/{w}/{i}", b"%d" % i, qos=1)
                p = c.recv_publish(timeout=5)
                assert p.payload == b"%d" % i
                if i % 3 == 0:
                    c.close()  # abrupt
                else:
                    c.disconnect()
        except Exception as e:
            errors.append(f"worker {w}: {e!r}")

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors
    assert len(watcher.wait_messages(8 * 15, timeout=10)) == 8 * 15
    assert_healthy(b)
