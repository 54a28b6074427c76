"""Persistence on a full disk: the broker neither aborts nor loses an acknowledged message; it
holds acknowledgements while it cannot write, keeps delivering what it stored and serving QoS 0,
says so in $SYS and its log, starts on the still-full disk, and acknowledges again by itself
once space is freed. Runs on a small tmpfs (needs permission to mount one)."""
import errno
import os
import re
import socket
import struct
import subprocess
import time

import pytest

from mqtt_helpers import (CONNACK, PUBACK, PUBLISH, Client, RawClient, ack_packet, connect_packet,
                          dec_varint, publish_packet)

pytestmark = pytest.mark.musqratt_only

FS_SIZE = 48 << 20
LEFT_FOR_MESSAGES = 3 << 20  # free space left once the filler is written
PAYLOAD = 2048


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("the disk-full test mounts a small tmpfs, which needs root (or CAP_SYS_ADMIN)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}): the disk-full test needs one")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(path, leave):
    """Writes `path` until the filesystem is full, then gives `leave` bytes back."""
    chunk = b"\0" * (1 << 20)
    with open(path, "wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
        size = f.tell()
    # What did not fit is counted in tell() but was not written.
    size = os.stat(path).st_size
    os.truncate(path, max(0, size - leave))


def _kill(request, b):
    b.proc.kill()
    b.proc.wait()
    request.node._brokers.remove(b)


class Pipelined:
    """A 3.1.1 publisher with many QoS 1 messages in flight, counting acknowledgements."""

    def __init__(self, broker, client_id):
        self.sock = socket.create_connection((broker.host, broker.port), timeout=5)
        self.sock.sendall(connect_packet(client_id, version=4))
        self.buf = bytearray()
        first, _ = self._read(5)
        assert first >> 4 == CONNACK
        self.pid_to_seq = {}
        self.acked = []

    def _read(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                n, off = dec_varint(self.buf, 1)
                if len(self.buf) >= off + n:
                    first, body = self.buf[0], bytes(self.buf[off:off + n])
                    del self.buf[:off + n]
                    return first, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError from None
            if not data:
                raise ConnectionError("closed")
            self.buf += data

    def run(self, topic, first_seq, window, quiet, limit):
        """Publishes seq numbers from first_seq on, `window` unacknowledged at most, until no
        acknowledgement came for `quiet` seconds (or `limit` were sent); returns the next seq."""
        seq = first_seq
        pid = 0
        while seq < first_seq + limit:
            while len(self.pid_to_seq) < window and seq < first_seq + limit:
                pid = pid % 65535 + 1
                while pid in self.pid_to_seq:
                    pid = pid % 65535 + 1
                payload = b"%08d" % seq + b"x" * (PAYLOAD - 8)
                self.sock.sendall(publish_packet(topic, payload, qos=1, pid=pid))
                self.pid_to_seq[pid] = seq
                seq += 1
            try:
                first, body = self._read(quiet)
            except TimeoutError:
                return seq
            if first >> 4 == PUBACK:
                (ack_pid,) = struct.unpack_from("!H", body, 0)
                self.acked.append(self.pid_to_seq.pop(ack_pid))
        return seq


def sys_values(b, timeout=5.0):
    """$SYS/broker/store/* as a dict of ints, once all three have been seen."""
    c = Client(b, version=4)
    c.subscribe("$SYS/broker/store/#", 0)
    deadline = time.monotonic() + timeout
    got = {}
    while time.monotonic() < deadline and len(got) < 3:
        for m in list(c.messages):
            got[m.topic.rsplit("/", 1)[1]] = int(m.payload)
        time.sleep(0.05)
    c.stop()
    return got


def wait_sys(b, key, value, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = sys_values(b)
        if last.get(key) == value:
            return last
    raise AssertionError(f"$SYS/broker/store/{key} never became {value}: {last}")


def drain(sub, quiet=2.0, timeout=30.0):
    """Payload seq numbers a RawClient subscriber receives (acknowledging each) until none came
    for `quiet` seconds."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            p = sub.recv_publish(timeout=quiet)
        except TimeoutError:
            break
        got.append(int(p.payload[:8]))
    return got


def test_full_disk_holds_acks_loses_nothing_and_recovers(broker_factory, request, small_fs):
    data = small_fs / "data"
    # A small in-memory queue, so that draining reads pages from the store while it is full.
    args = ["--persistence", "true", "--persistence-dir", str(data), "--persistence-memory-queue", "100"]
    b = broker_factory(sys_interval=1, extra_args=args)

    # Two persistent subscribers that are offline: what is published for them is stored. The
    # second stays away until the end, so that delivering to the first cannot free the space
    # (the messages are shared) and only freeing the disk can.
    for cid in ("df-sub", "df-sub-2"):
        s = RawClient(b, 4)
        s.connect(cid, clean=False)
        s.subscribe("df/q", 1)
        s.disconnect()
    zero = Client(b, version=4)
    zero.subscribe("df/zero", 0)

    filler = small_fs / "filler"
    fill(filler, LEFT_FOR_MESSAGES)
    pub = Pipelined(b, "df-pub")
    next_seq = pub.run("df/q", 1, window=50, quiet=3.0, limit=20000)
    acked = list(pub.acked)
    sent = next_seq - 1
    assert len(acked) > 100, f"too few messages acknowledged before the disk filled: {len(acked)}"
    assert len(acked) < sent, "every message was acknowledged: the disk never filled"
    assert b.alive(), "the broker died when the disk filled"
    st = wait_sys(b, "disk_full", 1, 10)
    assert st["writes_refused"] > 0 and st["writes_waiting"] > 0, st

    # QoS 0 still flows while nothing can be written.
    p0 = Client(b, version=4)
    p0.publish("df/zero", b"still-here", qos=0)
    assert zero.take(1, timeout=5)[0].payload == b"still-here"
    assert len(re.findall(r"persistence: cannot write to", b.log())) == 1, "the condition is logged once per interval"

    # kill -9 while full, and start again on the disk that is still full.
    _kill(request, b)
    b = broker_factory(sys_interval=1, extra_args=args)
    assert "no room for the reserve at start-up" in b.log()
    assert wait_sys(b, "disk_full", 1, 10)["disk_full"] == 1

    # A new QoS 1 message is not acknowledged while it cannot be stored.
    held = RawClient(b, 4, timeout=5)
    held.connect("df-pub-held")
    held.send(publish_packet("df/q", b"%08d" % 90000000 + b"held", qos=1, pid=7))
    with pytest.raises(TimeoutError):
        held._expect_ack(PUBACK, timeout=2)

    # The subscriber resumes (this aborted the broker before) and gets every acknowledged message.
    sub = RawClient(b, 4, timeout=5)
    assert sub.connect("df-sub", clean=False).session_present
    delivered = drain(sub)
    missing = sorted(set(acked) - set(delivered))
    print(f"\ndisk full: {sent} sent, {len(acked)} acknowledged before kill -9, {len(delivered)} delivered "
          f"after a restart on the full disk, {len(missing)} acknowledged ones missing")
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:10]}"
    assert delivered == sorted(delivered), "order not kept"
    assert b.alive(), "the broker died when the subscriber resumed on a full disk"
    assert sys_values(b)["disk_full"] == 1

    # Space comes back: the held acknowledgement goes out, and new messages are acknowledged.
    t0 = time.monotonic()
    filler.unlink()
    ack = held._expect_ack(PUBACK, timeout=15)
    assert ack.pid == 7
    print(f"acknowledging resumed {time.monotonic() - t0:.1f} s after space was freed")
    assert wait_sys(b, "disk_full", 0, 5)["writes_waiting"] == 0
    held.publish("df/q", b"%08d" % 90000001 + b"after", qos=1)  # waits for the PUBACK
    after = drain(sub)
    assert 90000001 in after
    # The other subscriber, away all along, gets everything acknowledged too.
    sub2 = RawClient(b, 4, timeout=5)
    assert sub2.connect("df-sub-2", clean=False).session_present
    got2 = drain(sub2)
    assert not sorted(set(acked + [90000000, 90000001]) - set(got2))
    assert len(re.findall(r"persistence: cannot write to", b.log())) == 1
    assert "persistence: writing again after" in b.log()
