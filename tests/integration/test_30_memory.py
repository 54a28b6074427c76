"""Memory a stuck subscriber can cost, the broker-wide budget, and memory given back.

A subscriber that never reads while a publisher sends 256 KiB messages: the broker holds at most
its queue (max_queued_bytes, 16 MiB by default) and not what was published (here 64 MiB, and
gigabytes before there was a byte limit); the drops are counted in $SYS and logged per client,
rate-limited; when the subscriber goes, the memory goes back to the system.
"""
import os
import re
import socket
import time

import pytest

from mqtt_helpers import (CONNACK, PINGRESP, PUBACK, PUBLISH, SUBACK, Closed, RawClient, connect_packet, publish_packet,
                          subscribe_packet, unique_id)

pytestmark = pytest.mark.musqratt_only

MIB = 1 << 20
# Under AddressSanitizer (scripts/sanitize.sh sets ASAN_OPTIONS) freed memory waits in its
# quarantine and every block carries shadow memory: RSS says nothing there, so the RSS bounds
# are checked in the plain builds only; what the broker does (drops, refusals, closes) is
# checked in both.
UNDER_ASAN = "ASAN_OPTIONS" in os.environ
BIG = 256 * 1024


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _read_exactly(sock, n, timeout=5.0):
    sock.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk, "closed by broker"
        buf += chunk
    return buf


def stuck_subscriber(b, topic, client_id=None):
    """Subscribes at QoS 1 with a small socket receive buffer, then never reads again."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.connect((b.host, b.port))
    s.sendall(connect_packet(client_id or unique_id("stuck"), version=4))
    assert _read_exactly(s, 4)[0] >> 4 == CONNACK
    s.sendall(subscribe_packet(1, [(topic, 1)], 4))
    assert _read_exactly(s, 5)[0] >> 4 == SUBACK
    return s


def sys_value(b, topic, pred, timeout=6.0):
    """Waits for a $SYS value satisfying pred; returns it."""
    c = RawClient(b, 4)
    c.connect(unique_id("sys"))
    c.subscribe(topic, 0)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            p = c.recv(max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        if p.type == PUBLISH:
            last = int(p.payload)
            if pred(last):
                c.close()
                return last
    c.close()
    raise AssertionError(f"{topic}: last value {last}, condition not met within {timeout}s")


def receive_buffers_kb(b):
    """Memory the transport keeps for good once touched: under io_uring each worker's ring of
    provided receive buffers (512 x 16 KiB, src/net/uring_worker.cpp), which a flood of large
    messages touches in full. Not held after the peak: it is the same 8 MiB whatever comes."""
    m = re.search(r"(\d+) io_uring worker thread", b.log())
    if not m or "buffer ring unavailable" in b.log():
        return 0
    return int(m.group(1)) * 8 * 1024


def wait_rss_below(b, limit_kb, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rss = status_kb(b.pid, "VmRSS")
        if rss < limit_kb:
            return rss
        time.sleep(0.1)
    raise AssertionError(f"RSS still {status_kb(b.pid, 'VmRSS')} kB, not below {limit_kb} kB after {timeout}s")


def test_stuck_subscriber_costs_its_queue_at_most_and_memory_is_given_back(broker_factory):
    # One worker: with two, the publisher sometimes lands on the other worker, and memory that
    # worker allocated and the subscriber's worker freed is not given back while the allocating
    # worker stays idle (mimalloc 2.0.9 decommits a live segment's freed pages only when its
    # owner works in it again; docs/operations.md). That case is a known limit, not tested here.
    b = broker_factory(sys_interval=1, extra_args=["--threads", "1"])
    stuck = stuck_subscriber(b, "big/#", client_id="stuck-subscriber")
    pub = RawClient(b, 4, timeout=10)
    pub.connect(unique_id("pub"))
    rss0 = status_kb(b.pid, "VmRSS")
    payload = b"x" * BIG
    for i in range(256):  # 64 MiB in all
        pub.publish("big/data", payload, qos=1)  # acknowledged: the broker has routed it
    peak = status_kb(b.pid, "VmHWM")
    grown_mib = (peak - rss0) / 1024
    # The stuck client's queue (16 MiB of payload by default) and its output buffer, with the
    # allocator's slack; without a byte limit it would be all 64 MiB published.
    assert UNDER_ASAN or grown_mib < 40, f"RSS grew by {grown_mib:.1f} MiB for one stuck subscriber"

    print(f"stuck subscriber: RSS {rss0} kB before, peak {peak} kB (+{grown_mib:.1f} MiB)")
    # Everything beyond the queue, the output buffer and the socket buffers was dropped, and
    # counted.
    sys_value(b, "$SYS/broker/messages/dropped", lambda v: v >= 256 - (16 * MIB // BIG) - 32)
    lines = re.findall(r"outgoing messages are being dropped for client 'stuck-subscriber'", b.log())
    assert 1 <= len(lines) <= 2, f"{len(lines)} drop log lines: not rate-limited"

    stuck.close()  # clean session: the session and its queue end with the connection
    rss = None if UNDER_ASAN else wait_rss_below(b, rss0 + 8 * 1024 + receive_buffers_kb(b))
    print(f"after the subscriber left: RSS {rss} kB")
    pub.publish("big/data", b"still serving", qos=1)


def test_memory_budget_refuses_qos1_with_0x97_and_recovers(broker_factory):
    budget = 8 * MIB
    b = broker_factory(sys_interval=1, extra_args=["--max-memory", str(budget), "--max-queued-bytes", "0"])
    stuck = stuck_subscriber(b, "big/#")
    pub = RawClient(b, 5, timeout=10)
    pub.connect(unique_id("pub5"))
    rss0 = status_kb(b.pid, "VmRSS")
    payload = b"y" * BIG
    codes = []
    for pid in range(1, 129):  # 32 MiB offered against an 8 MiB budget
        pub.send(publish_packet("big/data", payload, qos=1, pid=pid, version=5))
        codes.append(pub._expect_ack(PUBACK).rc)
        if codes[-1] == 0x97:
            break
    assert codes[-1] == 0x97, f"never refused: {codes}"  # Quota exceeded
    assert all(c == 0 for c in codes[:-1])
    accepted = len(codes) - 1
    assert accepted * BIG <= budget + BIG  # within the budget, give or take the accounting slack
    grown_mib = (status_kb(b.pid, "VmHWM") - rss0) / 1024
    print(f"8 MiB budget: {accepted} accepted, RSS peak +{grown_mib:.1f} MiB")
    assert UNDER_ASAN or grown_mib < 8 + 24  # the budget, buffers and the allocator's slack
    assert sys_value(b, "$SYS/broker/memory/refused", lambda v: v >= 1) >= 1
    assert "memory budget spent" in b.log()

    # The stuck client reads again: everything accepted arrives, and there is room again.
    reader = RawClient.__new__(RawClient)
    reader.version, reader.timeout, reader.sock, reader.buf, reader.closed = 4, 10, stuck, bytearray(), False
    reader.pending, reader._next_pid = [], 1
    for _ in range(accepted):
        assert len(reader.recv_publish().payload) == BIG
    deadline = time.monotonic() + 5
    while True:
        pub.send(publish_packet("other/topic", b"small", qos=1, pid=200, version=5))
        rc = pub._expect_ack(PUBACK).rc
        if rc != 0x97 or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # the budget is settled per thread in batches: give it a moment
    assert rc == 0x10  # accepted (no subscriber to that topic)
    stuck.close()


def test_memory_budget_closes_a_311_publisher_without_acknowledging_what_it_refused(broker_factory):
    """3.1.1 has no refusal code: a PUBACK would claim a message the broker did not take is
    safe. The broker closes the connection instead, and every message it did acknowledge
    reaches the subscriber once it reads again."""
    budget = 8 * MIB
    b = broker_factory(extra_args=["--max-memory", str(budget), "--max-queued-bytes", "0"])
    stuck = stuck_subscriber(b, "big/#")
    pub = RawClient(b, 4, timeout=10)
    pub.connect(unique_id("pub4"))
    payload = b"z" * BIG
    acked = 0
    closed = False
    for pid in range(1, 129):  # 32 MiB offered against an 8 MiB budget
        pub.send(publish_packet("big/data", payload, qos=1, pid=pid, version=4))
        try:
            assert pub._expect_ack(PUBACK).pid == pid
            acked += 1
        except Closed:
            closed = True
            break
    assert closed, f"never refused: {acked} acknowledged"
    assert 0 < acked and acked * BIG <= budget + BIG
    assert "memory budget spent: QoS 1/2 message not accepted, not acknowledged" in b.log()

    reader = RawClient.__new__(RawClient)
    reader.version, reader.timeout, reader.sock, reader.buf, reader.closed = 4, 10, stuck, bytearray(), False
    reader.pending, reader._next_pid = [], 1
    for _ in range(acked):  # everything acknowledged arrives
        assert reader.recv_publish().payload == payload
    stuck.close()


def test_partly_received_packets_count_against_the_budget_and_memory_goes_back(broker_factory):
    """Clients that send most of a 15 MiB PUBLISH and stop: what the broker holds of those
    packets is charged to max_memory, past it such a connection is closed, and once they are
    all gone the memory goes back to the system (it stayed at 88 MiB before)."""
    budget = 48 * MIB
    b = broker_factory(extra_args=["--max-memory", str(budget), "--max-packet-size", str(16 * MIB)])
    bystander = RawClient(b, 4)
    bystander.connect(unique_id("bystander"))
    rss0 = status_kb(b.pid, "VmRSS")
    body = publish_packet("big/partial", b"p" * (15 * MIB), qos=0, version=4)
    part = body[: 12 * MIB]  # most of it, never the end
    socks, closed = [], 0
    for i in range(12):  # 144 MiB offered against a 48 MiB budget
        s = socket.create_connection((b.host, b.port))
        s.sendall(connect_packet(unique_id(f"partial{i}"), version=4))
        assert _read_exactly(s, 4)[0] >> 4 == CONNACK
        try:
            s.sendall(part)
        except OSError:
            closed += 1  # closed by the broker while we were still sending
        socks.append(s)
    for s in socks:  # the ones past the budget are closed by the broker
        s.settimeout(5)
        try:
            if s.recv(1) == b"":
                closed += 1
        except (socket.timeout, OSError):
            pass
    peak = status_kb(b.pid, "VmHWM")
    print(f"partial packets: {closed} of 12 connections closed; RSS {rss0} kB before, peak {peak} kB")
    assert closed >= 6, f"only {closed} of 12 closed: partial packets are not charged"
    # Packets in progress may take an eighth more than the budget, and the heap keeps what a
    # growing buffer left behind for a moment (mimalloc decommits freed pages after a delay;
    # measured on io_uring: +80 MiB at the peak, against +60 to +70 with glibc). Uncharged, the
    # twelve packets would take 144 MiB and more.
    assert UNDER_ASAN or (peak - rss0) / 1024 < 48 * 9 / 8 + 40
    assert "a partly received packet is not held" in b.log()
    bystander.send(b"\xc0\x00")  # everyone else is served meanwhile (PINGREQ)
    assert bystander.expect(PINGRESP).type == PINGRESP
    for s in socks:
        s.close()
    rss = None if UNDER_ASAN else wait_rss_below(b, rss0 + 8 * 1024 + receive_buffers_kb(b))
    print(f"after they left: RSS {rss} kB")
