"""Message flows for the bridge tests: a fast pipelined QoS 1/2 publisher and a subscriber that
records every message, both on raw sockets (thousands of messages a second without a client
library in the way), and the end-to-end count of a numbered flow: lost, duplicated, reordered."""
import socket
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from mqtt_helpers import (CONNACK, CONNECT, PINGREQ_PACKET, PUBACK, PUBCOMP, PUBLISH, PUBREC,  # noqa: E402
                          PUBREL, SUBACK, ack_packet, connect_packet, dec_varint,
                          disconnect_packet, enc_props, packet, publish_packet, subscribe_packet)

P_SESSION_EXPIRY = 0x11


class Stream:
    """A socket read as MQTT packets: (type, flags, body)."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.held = []  # packets read with an earlier one and not consumed yet

    def hold(self, packets):
        self.held[:0] = packets

    def send(self, data):
        self.sock.sendall(data)

    def packets(self, timeout):
        """Packets available within `timeout` (at least one, or [] on timeout)."""
        if self.held:
            out, self.held = self.held, []
            return out
        self.sock.settimeout(timeout)
        out = []
        while not out:
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return out
            if not chunk:
                raise ConnectionError("connection closed by the broker")
            self.buf += chunk
            while len(self.buf) >= 2:
                try:
                    length, off = dec_varint(self.buf, 1)
                except IndexError:
                    break
                if len(self.buf) < off + length:
                    break
                first = self.buf[0]
                out.append((first >> 4, first & 0x0F, bytes(self.buf[off:off + length])))
                del self.buf[:off + length]
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def connect(host, port, client_id, version=4, clean=True, session_expiry=None, keepalive=60, timeout=5.0):
    """A connected Stream and whether the broker had a session."""
    s = Stream(host, port, timeout)
    props = {P_SESSION_EXPIRY: session_expiry} if (version == 5 and session_expiry is not None) else None
    s.send(connect_packet(client_id, version=version, clean=clean, keepalive=keepalive, props=props))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = s.packets(deadline - time.monotonic())
        for i, (ptype, _, body) in enumerate(got):
            if ptype == CONNACK:
                if body[1] != 0:
                    s.close()
                    raise ConnectionError(f"CONNACK refused with {body[1]:#x}")
                s.hold(got[i + 1:])  # a resumed session's messages may come in the same read
                return s, bool(body[0] & 1)
    s.close()
    raise TimeoutError("no CONNACK")


def publish_numbered(host, port, topic, count, qos=1, version=4, window=200, start=0, client_id=None,
                     timeout=60.0, payload_size=0):
    """Publishes payloads "0", "1", ... (padded to payload_size) and returns how many were
    acknowledged (PUBACK, or PUBCOMP for QoS 2). Raises if the broker stops answering."""
    client_id = client_id or f"pub-{time.monotonic_ns()}"
    s, _ = connect(host, port, client_id, version=version)
    tb = topic.encode()
    in_flight = {}
    next_seq = start
    acked = 0
    pid = 0
    deadline = time.monotonic() + timeout
    try:
        while acked < count:
            batch = []
            while next_seq < start + count and len(in_flight) < window:
                pid = pid % 65535 + 1
                body = str(next_seq).encode()
                if payload_size > len(body):
                    body += b" " * (payload_size - len(body))
                batch.append(publish_packet(tb.decode(), body, qos=qos, pid=pid, version=version))
                in_flight[pid] = next_seq
                next_seq += 1
            if batch:
                s.send(b"".join(batch))
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {acked} of {count} publishes acknowledged")
            replies = []
            for ptype, _, body in s.packets(1.0):
                ack_pid = struct.unpack("!H", body[:2])[0]
                if ptype == PUBACK or ptype == PUBCOMP:
                    if len(body) > 2 and body[2] >= 0x80:
                        raise RuntimeError(f"publish refused with {body[2]:#x}")
                    if in_flight.pop(ack_pid, None) is not None:
                        acked += 1
                elif ptype == PUBREC:
                    replies.append(ack_packet(PUBREL, ack_pid, version=version))
            if replies:
                s.send(b"".join(replies))
        s.send(disconnect_packet(version))
    finally:
        s.close()
    return acked


class Subscriber:
    """Subscribes and records (topic, payload, retain, dup) of every message, acknowledging
    QoS 1 and 2. With clean=False it can reconnect (after its broker restarted) and resume."""

    def __init__(self, host, port, filters, qos=1, version=4, client_id=None, clean=True, session_expiry=None,
                 no_local=False):
        self.host, self.port = host, port
        self.filters = filters if isinstance(filters, (list, tuple)) else [filters]
        self.qos, self.version, self.clean = qos, version, clean
        self.session_expiry = session_expiry
        self.no_local = no_local
        self.client_id = client_id or f"sub-{time.monotonic_ns()}"
        self.messages = []
        self.lock = threading.Lock()
        self.stop_flag = False
        self.error = None
        self.stream = None
        self._connect()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _connect(self):
        s, present = connect(self.host, self.port, self.client_id, version=self.version, clean=self.clean,
                             session_expiry=self.session_expiry)
        if not present or self.clean:
            opts = self.qos | (0x04 if (self.no_local and self.version == 5) else 0)
            s.send(subscribe_packet(1, [(f, opts) for f in self.filters], version=self.version))
            deadline = time.monotonic() + 5
            got = False
            pending = []
            while not got and time.monotonic() < deadline:
                for p in s.packets(1.0):
                    if p[0] == SUBACK and not got:
                        got = True
                    else:
                        pending.append(p)
            if not got:
                raise TimeoutError("no SUBACK")
            s.hold(pending)
        self.stream = s

    def _handle(self, s, p):
        ptype, flags, body = p
        if ptype == PUBLISH:
            qos = (flags >> 1) & 3
            tlen = struct.unpack("!H", body[:2])[0]
            topic = body[2:2 + tlen].decode()
            off = 2 + tlen
            pid = None
            if qos:
                pid = struct.unpack("!H", body[off:off + 2])[0]
                off += 2
            if self.version == 5:
                plen, off = dec_varint(body, off)
                off += plen
            with self.lock:
                self.messages.append((topic, bytes(body[off:]), bool(flags & 1), bool(flags & 8)))
            if qos == 1:
                s.send(ack_packet(PUBACK, pid, version=self.version))
            elif qos == 2:
                s.send(ack_packet(PUBREC, pid, version=self.version))
        elif ptype == PUBREL:
            s.send(ack_packet(PUBCOMP, struct.unpack("!H", body[:2])[0], version=self.version))

    def _run(self):
        last_ping = time.monotonic()
        while not self.stop_flag:
            s = self.stream
            if s is None:
                time.sleep(0.05)
                continue
            try:
                for p in s.packets(0.2):
                    self._handle(s, p)
                if time.monotonic() - last_ping > 20:
                    s.send(PINGREQ_PACKET)
                    last_ping = time.monotonic()
            except (OSError, ConnectionError) as e:
                if self.stop_flag:
                    return
                self.stream = None
                if self.clean:
                    self.error = e
                    return
                # a persistent session: come back once the broker is back
                deadline = time.monotonic() + 60
                while not self.stop_flag and time.monotonic() < deadline:
                    try:
                        self._connect()
                        break
                    except (OSError, ConnectionError, TimeoutError):
                        time.sleep(0.1)

    def count(self):
        with self.lock:
            return len(self.messages)

    def payloads(self):
        with self.lock:
            return [m[1] for m in self.messages]

    def wait_count(self, n, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= n:
                return True
            time.sleep(0.05)
        return self.count() >= n

    def wait_quiet(self, quiet=1.0, timeout=30.0):
        """Waits until nothing has arrived for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        last, since = self.count(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            c = self.count()
            if c != last:
                last, since = c, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return c
        return self.count()

    def close(self):
        self.stop_flag = True
        if self.stream:
            try:
                self.stream.send(disconnect_packet(self.version))
            except OSError:
                pass
            self.stream.close()
        self.thread.join(timeout=2)


def count_flow(payloads, expected):
    """Lost, duplicated and reordered messages of a flow numbered 0..expected-1 ("N ...")."""
    seen = set()
    dup = 0
    reordered = 0
    highest = -1
    for p in payloads:
        n = int(p.split()[0])
        if n in seen:
            dup += 1
            continue
        seen.add(n)
        if n < highest:
            reordered += 1
        highest = max(highest, n)
    lost = sum(1 for i in range(expected) if i not in seen)
    return {"received": len(payloads), "lost": lost, "duplicated": dup, "reordered": reordered}
