"""Client helpers for the integration tests: a raw-socket MQTT client with hand-encoded
packets (for malformed input and exact reason codes) and a blocking wrapper around paho.

Tests wait for events, never for time: `Client.take`/`wait_for` wait for messages, the
`*_marker` methods prove that something did NOT arrive (a marker published after it arrives
first), `RawClient.expect_only_pingresp` that the broker sent nothing of its own, `wait_until`
polls state only visible by looking (a log file, /proc). Every wait has a timeout. A sleep is
left only where real time must pass (expiry, keep-alive, delays, rates)."""
import queue
import socket
import struct
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

# ------------------------------------------------------------------------------------------
# packet types
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = range(8, 16)
TYPE_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
              7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
              12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}

# property identifiers (MQTT 5.0 section 2.2.2.2)
P_PAYLOAD_FORMAT = 0x01
P_MESSAGE_EXPIRY = 0x02
P_CONTENT_TYPE = 0x03
P_RESPONSE_TOPIC = 0x08
P_CORRELATION_DATA = 0x09
P_SUBSCRIPTION_ID = 0x0B
P_SESSION_EXPIRY = 0x11
P_ASSIGNED_CLIENT_ID = 0x12
P_SERVER_KEEP_ALIVE = 0x13
P_AUTH_METHOD = 0x15
P_AUTH_DATA = 0x16
P_REQUEST_PROBLEM_INFO = 0x17
P_WILL_DELAY = 0x18
P_REQUEST_RESPONSE_INFO = 0x19
P_RESPONSE_INFO = 0x1A
P_SERVER_REFERENCE = 0x1C
P_REASON_STRING = 0x1F
P_RECEIVE_MAXIMUM = 0x21
P_TOPIC_ALIAS_MAXIMUM = 0x22
P_TOPIC_ALIAS = 0x23
P_MAXIMUM_QOS = 0x24
P_RETAIN_AVAILABLE = 0x25
P_USER_PROPERTY = 0x26
P_MAXIMUM_PACKET_SIZE = 0x27
P_WILDCARD_SUB_AVAILABLE = 0x28
P_SUB_ID_AVAILABLE = 0x29
P_SHARED_SUB_AVAILABLE = 0x2A

PROP_TYPES = {
    0x01: "byte", 0x02: "int4", 0x03: "str", 0x08: "str", 0x09: "bin", 0x0B: "varint",
    0x11: "int4", 0x12: "str", 0x13: "int2", 0x15: "str", 0x16: "bin", 0x17: "byte",
    0x18: "int4", 0x19: "byte", 0x1A: "str", 0x1C: "str", 0x1F: "str", 0x21: "int2",
    0x22: "int2", 0x23: "int2", 0x24: "byte", 0x25: "byte", 0x26: "pair", 0x27: "int4",
    0x28: "byte", 0x29: "byte", 0x2A: "byte",
}


# ------------------------------------------------------------------------------------------
# waiting
def wait_until(predicate, timeout=5.0, what="condition", interval=0.01):
    """Polls predicate() until it returns something true, which is returned; an AssertionError
    after timeout. For state that can only be looked at (a log file, /proc, a server process);
    messages are waited for with Client.wait_for / take, which need no polling."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.1f}s")
        time.sleep(interval)


def marker_payload():
    """A payload no test publishes otherwise: the marker of the *_marker methods."""
    return f"marker-{unique_id()}".encode()


def is_marker(payload):
    return bytes(payload).startswith(b"marker-")


# ------------------------------------------------------------------------------------------
# encoding
def enc_varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def enc_str(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return struct.pack("!H", len(s)) + s


enc_bin = enc_str


def enc_props(props):
    """props: None, a dict {id: value} or a list of (id, value) (duplicates allowed)."""
    if props is None:
        props = []
    if isinstance(props, dict):
        props = list(props.items())
    body = bytearray()
    for pid, val in props:
        body += enc_varint(pid)
        t = PROP_TYPES[pid]
        if t == "byte":
            body.append(val)
        elif t == "int2":
            body += struct.pack("!H", val)
        elif t == "int4":
            body += struct.pack("!I", val)
        elif t == "varint":
            body += enc_varint(val)
        elif t in ("str", "bin"):
            body += enc_str(val)
        elif t == "pair":
            body += enc_str(val[0]) + enc_str(val[1])
    return enc_varint(len(body)) + bytes(body)


def packet(ptype, flags, body):
    return bytes([(ptype << 4) | flags]) + enc_varint(len(body)) + bytes(body)


def connect_packet(client_id="", version=4, clean=True, keepalive=60, props=None, will=None,
                   username=None, password=None, proto_name=None, proto_level=None):
    """will: dict(topic=, payload=, qos=0, retain=False, props=None)."""
    if proto_name is None:
        proto_name = "MQIsdp" if version == 3 else "MQTT"
    if proto_level is None:
        proto_level = version
    flags = 0x02 if clean else 0
    if will:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    vh = enc_str(proto_name) + bytes([proto_level, flags]) + struct.pack("!H", keepalive)
    if version == 5:
        vh += enc_props(props)
    pl = enc_str(client_id)
    if will:
        if version == 5:
            pl += enc_props(will.get("props"))
        pl += enc_str(will["topic"]) + enc_bin(will.get("payload", b""))
    if username is not None:
        pl += enc_str(username)
    if password is not None:
        pl += enc_bin(password)
    return packet(CONNECT, 0, vh + pl)


def publish_packet(topic, payload=b"", qos=0, retain=False, dup=False, pid=None, version=4, props=None):
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = enc_str(topic)
    if qos:
        body += struct.pack("!H", pid if pid is not None else 1)
    if version == 5:
        body += enc_props(props)
    return packet(PUBLISH, flags, body + payload)


def subscribe_packet(pid, subs, version=4, props=None):
    """subs: list of (topic, options byte) — for 3.1.1 the options byte is the QoS."""
    body = struct.pack("!H", pid)
    if version == 5:
        body += enc_props(props)
    for topic, opts in subs:
        body += enc_str(topic) + bytes([opts])
    return packet(SUBSCRIBE, 2, body)


def unsubscribe_packet(pid, topics, version=4, props=None):
    body = struct.pack("!H", pid)
    if version == 5:
        body += enc_props(props)
    for t in topics:
        body += enc_str(t)
    return packet(UNSUBSCRIBE, 2, body)


def ack_packet(ptype, pid, version=4, reason=None, props=None):
    flags = 2 if ptype == PUBREL else 0
    body = struct.pack("!H", pid)
    if version == 5 and (reason is not None or props is not None):
        body += bytes([reason or 0])
        if props is not None:
            body += enc_props(props)
    return packet(ptype, flags, body)


def disconnect_packet(version=4, reason=None, props=None):
    body = b""
    if version == 5 and (reason is not None or props is not None):
        body = bytes([reason or 0])
        if props is not None:
            body += enc_props(props)
    return packet(DISCONNECT, 0, body)


PINGREQ_PACKET = b"\xc0\x00"


# ------------------------------------------------------------------------------------------
# decoding
def dec_varint(buf, off):
    mult, val = 1, 0
    for i in range(4):
        b = buf[off]
        off += 1
        val += (b & 0x7F) * mult
        if not b & 0x80:
            return val, off
        mult *= 128
    raise ValueError("malformed varint")


def dec_str(buf, off):
    (n,) = struct.unpack_from("!H", buf, off)
    return bytes(buf[off + 2:off + 2 + n]), off + 2 + n


def dec_props(buf, off):
    n, off = dec_varint(buf, off)
    end = off + n
    props = []
    while off < end:
        pid, off = dec_varint(buf, off)
        t = PROP_TYPES.get(pid)
        if t == "byte":
            val = buf[off]
            off += 1
        elif t == "int2":
            (val,) = struct.unpack_from("!H", buf, off)
            off += 2
        elif t == "int4":
            (val,) = struct.unpack_from("!I", buf, off)
            off += 4
        elif t == "varint":
            val, off = dec_varint(buf, off)
        elif t == "str":
            val, off = dec_str(buf, off)
            val = val.decode("utf-8")
        elif t == "bin":
            val, off = dec_str(buf, off)
        elif t == "pair":
            k, off = dec_str(buf, off)
            v, off = dec_str(buf, off)
            val = (k.decode(), v.decode())
        else:
            raise ValueError(f"unknown property id 0x{pid:02x}")
        props.append((pid, val))
    return PropList(props), end


class PropList(list):
    def get(self, pid, default=None):
        for k, v in self:
            if k == pid:
                return v
        return default

    def all(self, pid):
        return [v for k, v in self if k == pid]

    def has(self, pid):
        return any(k == pid for k, _ in self)


class Packet:
    def __init__(self, first, body, version):
        self.type = first >> 4
        self.flags = first & 0x0F
        self.body = bytes(body)
        self.version = version
        self.props = PropList()
        self._parse()

    def __repr__(self):
        extra = {k: v for k, v in self.__dict__.items() if k not in ("body", "version")}
        return f"<{TYPE_NAMES.get(self.type, self.type)} {extra}>"

    def _parse(self):
        b, v = self.body, self.version
        t = self.type
        if t == CONNACK:
            self.session_present = bool(b[0] & 1)
            self.rc = b[1]
            if v == 5 and len(b) > 2:
                self.props, _ = dec_props(b, 2)
        elif t == PUBLISH:
            self.qos = (self.flags >> 1) & 3
            self.retain = bool(self.flags & 1)
            self.dup = bool(self.flags & 8)
            topic, off = dec_str(b, 0)
            self.topic = topic.decode("utf-8", "replace")
            self.pid = None
            if self.qos:
                (self.pid,) = struct.unpack_from("!H", b, off)
                off += 2
            if v == 5:
                self.props, off = dec_props(b, off)
            self.payload = b[off:]
        elif t in (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, SUBACK):
            (self.pid,) = struct.unpack_from("!H", b, 0)
            off = 2
            self.rc = 0
            if t in (SUBACK, UNSUBACK):
                if v == 5:
                    self.props, off = dec_props(b, off)
                self.codes = list(b[off:])
            elif v == 5 and len(b) > 2:
                self.rc = b[2]
                if len(b) > 3:
                    self.props, _ = dec_props(b, 3)
        elif t == DISCONNECT:
            self.rc = b[0] if b else 0
            if v == 5 and len(b) > 1:
                self.props, _ = dec_props(b, 1)


LIVE = []  # every client made during the current test; closed by conftest after the test


def close_all():
    while LIVE:
        c = LIVE.pop()
        try:
            c.stop() if isinstance(c, Client) else c.close()
        except Exception:
            pass


class Closed(Exception):
    pass


class RawClient:
    """A hand-driven MQTT connection. recv() returns Packet objects; Closed is raised on EOF."""

    def __init__(self, broker, version=4, timeout=3.0, rcvbuf=None):
        """rcvbuf: a receive buffer of that size, set before the connect (which fixes the TCP
        window): a slow reader whose socket the broker fills quickly."""
        self.version = version
        self.timeout = timeout
        if rcvbuf is None:
            self.sock = socket.create_connection((broker.host, broker.port), timeout=timeout)
        else:
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((broker.host, broker.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.closed = False
        self._next_pid = 1
        self.pending = []  # PUBLISH packets that arrived while waiting for an acknowledgement
        LIVE.append(self)

    def next_pid(self):
        pid = self._next_pid
        self._next_pid = pid % 65535 + 1
        return pid

    def send(self, data):
        self.sock.sendall(data)

    def try_send(self, data):
        """send() that reports whether the peer had already closed."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no packet from broker in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no packet from broker in time") from None
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.closed = True
            raise Closed("connection closed by broker")
        self.buf += data

    def recv(self, timeout=None):
        if self.pending:
            return self.pending.pop(0)
        return self._recv_net(timeout)

    def _expect_ack(self, ptype, timeout=None):
        """Next packet that is not a PUBLISH (those are kept for recv); asserts its type."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            p = self._recv_net(max(0.001, deadline - time.monotonic()))
            if p.type == PUBLISH and ptype != PUBLISH:
                self.pending.append(p)
                continue
            assert p.type == ptype, f"expected {TYPE_NAMES[ptype]}, got {p!r}"
            return p

    def take_buffered(self):
        """The next packet if the bytes received so far hold all of it, else None."""
        if len(self.buf) < 2:
            return None
        try:
            n, off = dec_varint(self.buf, 1)
        except IndexError:
            return None
        if len(self.buf) < off + n:
            return None
        first = self.buf[0]
        body = self.buf[off:off + n]
        del self.buf[:off + n]
        return Packet(first, body, self.version)

    def _recv_net(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            p = self.take_buffered()
            if p is not None:
                return p
            self._fill(deadline)

    def expect(self, ptype, timeout=None):
        p = self.recv(timeout)
        assert p.type == ptype, f"expected {TYPE_NAMES[ptype]}, got {p!r}"
        return p

    def expect_nothing(self, wait=0.3):
        """A fixed wait: prefer expect_only_marker / expect_only_pingresp, which wait for an event."""
        try:
            p = self.recv(wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected packet {p!r}")

    def take_until_marker(self, publisher, topic, qos=1, timeout=None):
        """`publisher` (a Client or RawClient) publishes a marker to `topic`, which this client
        must be subscribed to; returns every packet that arrives before the marker (PUBLISH
        packets are acknowledged). The broker appends to one session queue in order, so
        whatever it routed to this client before the marker came first."""
        token = marker_payload()
        publisher.publish(topic, token, qos=qos)
        got = []
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                p = self.recv(max(0.001, deadline - time.monotonic()))
            except TimeoutError:
                raise AssertionError(f"marker on {topic!r} not received; before it: {got!r}") from None
            if p.type == PUBLISH:
                self._complete(p)
                if p.payload == token:
                    return got
            got.append(p)

    def expect_only_marker(self, publisher, topic, qos=1, timeout=None):
        """Asserts that nothing arrives before a marker (see take_until_marker)."""
        got = self.take_until_marker(publisher, topic, qos, timeout)
        assert not got, f"unexpected packets before the marker: {got!r}"

    def expect_only_pingresp(self, rounds=2, timeout=None):
        """Asserts that only PINGRESPs come back for `rounds` PINGREQs sent one after another:
        the broker has read and answered everything sent before them, so a packet it would
        send of its own accord meanwhile (a resend, a message beyond a full window) has had
        its turns of the event loop and would have come first. For what has no marker route."""
        for _ in range(rounds):
            self.send(PINGREQ_PACKET)
            p = self.recv(timeout)
            assert p.type == PINGRESP, f"unexpected packet {p!r} (expected only PINGRESP)"

    def wait_closed(self, timeout=3.0):
        """Asserts that the broker closes the connection within timeout; returns the packets
        received before the close."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                got.append(self.recv(max(0.001, deadline - time.monotonic())))
            except Closed:
                return got
            except TimeoutError:
                raise AssertionError(f"connection still open after {timeout}s; got {got!r}") from None

    # -- conveniences -------------------------------------------------------------------------
    def connect(self, client_id="", expect_rc=0, timeout=None, **kw):
        kw.setdefault("version", self.version)
        self.send(connect_packet(client_id, **kw))
        ack = self.expect(CONNACK, timeout)
        if expect_rc is not None:
            assert ack.rc == expect_rc, f"CONNACK rc 0x{ack.rc:02x}, expected 0x{expect_rc:02x}"
        return ack

    def subscribe(self, topic, opts=0, props=None):
        subs = topic if isinstance(topic, list) else [(topic, opts)]
        pid = self.next_pid()
        self.send(subscribe_packet(pid, subs, self.version, props))
        ack = self._expect_ack(SUBACK)
        assert ack.pid == pid
        return ack.codes

    def publish(self, topic, payload=b"", qos=0, retain=False, props=None, dup=False, pid=None):
        """Publishes and completes the QoS 1/2 flow; returns the packet id."""
        if qos and pid is None:
            pid = self.next_pid()
        self.send(publish_packet(topic, payload, qos, retain, dup, pid, self.version, props))
        if qos == 1:
            ack = self._expect_ack(PUBACK)
            assert ack.pid == pid
        elif qos == 2:
            rec = self._expect_ack(PUBREC)
            assert rec.pid == pid
            self.send(ack_packet(PUBREL, pid, self.version))
            comp = self._expect_ack(PUBCOMP)
            assert comp.pid == pid
        return pid

    def recv_publish(self, timeout=None, ack=True):
        """Receives a PUBLISH (skipping nothing else) and, if ack, completes its QoS flow."""
        p = self.expect(PUBLISH, timeout)
        if ack:
            self._complete(p)
        return p

    def _complete(self, p):
        """Completes the QoS flow of a received PUBLISH."""
        if p.qos == 1:
            self.send(ack_packet(PUBACK, p.pid, self.version))
        elif p.qos == 2:
            self.send(ack_packet(PUBREC, p.pid, self.version))
            rel = self._expect_ack(PUBREL)
            assert rel.pid == p.pid and rel.flags == 2
            self.send(ack_packet(PUBCOMP, p.pid, self.version))

    def disconnect(self, reason=None, props=None):
        self.try_send(disconnect_packet(self.version, reason, props))
        self.close()


# ------------------------------------------------------------------------------------------
# paho wrapper
_VERSIONS = {3: mqtt.MQTTv31, 4: mqtt.MQTTv311, 5: mqtt.MQTTv5}
_counter = [0]
_counter_lock = threading.Lock()


def stream_pair(broker, qos=1, timeout=30):
    """A subscriber of a fresh topic at `qos` and a publisher for it: (topic, sub, pub)."""
    topic = unique_id("stream")
    sub = RawClient(broker, timeout=timeout)
    sub.connect(unique_id("sub"))
    sub.subscribe(topic, qos)
    pub = RawClient(broker, timeout=timeout)
    pub.connect(unique_id("pub"))
    return topic, sub, pub


def numbered_publish(topic, n, size, qos=1):
    """PUBLISH number `n` of a stream (packet id n + 1): its payload is `size` bytes, the
    number repeated, so receive_numbered can tell which message arrived."""
    return publish_packet(topic, n.to_bytes(4, "big") * (size // 4), qos, pid=n + 1)


def receive_numbered(sub, count, timeout=30):
    """The numbers of the next `count` numbered_publish messages `sub` receives, in order."""
    got = []
    while len(got) < count:
        m = sub.recv_publish(timeout)
        assert m.type == PUBLISH
        got.append(int.from_bytes(m.payload[:4], "big"))
    return got


def unique_id(prefix="c"):
    with _counter_lock:
        _counter[0] += 1
        return f"{prefix}-{int(time.time() * 1000) % 100000}-{_counter[0]}"


def props(packet_type, **kw):
    """props(PacketTypes.PUBLISH, MessageExpiryInterval=5, UserProperty=[("a", "b")])"""
    p = Properties(packet_type)
    for k, v in kw.items():
        setattr(p, k, v)
    return p


class Client:
    """A paho client on its own network thread, with blocking helpers. It never reconnects
    on its own."""

    def __init__(self, broker, client_id=None, version=5, clean=True, session_expiry=None,
                 keepalive=60, will=None, connect_props=None, connect=True, timeout=5.0):
        self.broker = broker
        self.version = version
        self.client_id = unique_id() if client_id is None else client_id
        self.clean = clean
        self.keepalive = keepalive
        self.timeout = timeout
        self.connect_props = connect_props
        if session_expiry is not None:
            if self.connect_props is None:
                self.connect_props = Properties(PacketTypes.CONNECT)
            self.connect_props.SessionExpiryInterval = session_expiry
        if version == 5:
            self.c = mqtt.Client(self.client_id, protocol=mqtt.MQTTv5)
        else:
            self.c = mqtt.Client(self.client_id, clean_session=clean, protocol=_VERSIONS[version])
        self.c.max_inflight_messages_set(100)
        self.c.max_queued_messages_set(0)
        if will:
            self.c.will_set(will["topic"], will.get("payload", b""), will.get("qos", 0),
                            will.get("retain", False), will.get("props"))
        self.lock = threading.Condition()
        self.messages = []
        self.connack = None
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.disconnect_rc = None
        self.disconnect_props = None
        self.subacks = {}
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        self.c.on_disconnect = self._on_disconnect
        LIVE.append(self)
        if connect:
            self.connect()

    # -- callbacks ----------------------------------------------------------------------------
    def _on_connect(self, c, ud, flags, rc, properties=None):
        rcv = rc.value if hasattr(rc, "value") else rc
        # paho 1.6 ignores the server's Receive Maximum; respect it here
        rm = getattr(properties, "ReceiveMaximum", None) if properties is not None else None
        if rm:
            self.c.max_inflight_messages_set(min(100, rm))
        self.connack = (rcv, flags, properties)
        self.connected.set()

    def _on_message(self, c, ud, msg):
        with self.lock:
            self.messages.append(msg)
            self.lock.notify_all()

    def _on_subscribe(self, c, ud, mid, granted, properties=None):
        with self.lock:
            self.subacks[mid] = [g.value if hasattr(g, "value") else g for g in granted]
            self.lock.notify_all()

    def _on_unsubscribe(self, c, ud, mid, properties=None, reasons=None):
        with self.lock:
            self.subacks[mid] = reasons
            self.lock.notify_all()

    def _on_disconnect(self, c, ud, rc, properties=None):
        self.disconnect_rc = rc.value if hasattr(rc, "value") else rc
        self.disconnect_props = properties
        self.disconnected.set()
        # stops paho's loop_forever from reconnecting by itself
        self.c.disconnect()

    # -- operations ---------------------------------------------------------------------------
    def connect(self, expect_rc=0):
        self.connected.clear()
        self.disconnected.clear()
        kw = {}
        if self.version == 5:
            kw["clean_start"] = self.clean
            kw["properties"] = self.connect_props
        self.c.connect(self.broker.host, self.broker.port, self.keepalive, **kw)
        self.c.loop_start()
        if not self.connected.wait(self.timeout):
            raise AssertionError("no CONNACK within %.1fs" % self.timeout)
        rc = self.connack[0]
        if expect_rc is not None:
            assert rc == expect_rc, f"CONNACK rc {rc}, expected {expect_rc}"
        return self.connack

    @property
    def session_present(self):
        flags = self.connack[1]
        return bool(flags.get("session present"))

    @property
    def connack_props(self):
        return self.connack[2]

    def subscribe(self, topic, qos=0, no_local=False, retain_as_published=False,
                  retain_handling=0, sub_id=None, expect=None):
        kw = {}
        if self.version == 5:
            kw["options"] = SubscribeOptions(qos=qos, noLocal=no_local,
                                             retainAsPublished=retain_as_published,
                                             retainHandling=retain_handling)
            if sub_id is not None:
                kw["properties"] = props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=sub_id)
            rc, mid = self.c.subscribe(topic, **kw)
        else:
            rc, mid = self.c.subscribe(topic, qos)
        assert rc == 0, f"subscribe failed locally: {rc}"
        granted = self._wait_ack(mid, "SUBACK")
        want = [qos] if expect is None else expect
        assert granted == want, f"SUBACK {granted}, expected {want}"
        return granted

    def unsubscribe(self, topic):
        rc, mid = self.c.unsubscribe(topic)
        assert rc == 0
        return self._wait_ack(mid, "UNSUBACK")

    def _wait_ack(self, mid, what):
        deadline = time.monotonic() + self.timeout
        with self.lock:
            while mid not in self.subacks:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {self.timeout}s")
                self.lock.wait(left)
            return self.subacks.pop(mid)

    def publish(self, topic, payload=b"", qos=0, retain=False, properties=None, wait=True):
        info = self.c.publish(topic, payload, qos, retain, properties)
        assert info.rc == 0, f"publish failed locally: {info.rc}"
        if wait and qos > 0:
            info.wait_for_publish(self.timeout)
            assert info.is_published(), f"QoS {qos} publish to {topic} not acknowledged"
        return info

    def wait_messages(self, n, timeout=3.0):
        """Waits until at least n messages have arrived in total; returns all of them."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(m.topic, m.payload[:40]) for m in self.messages[:20]]
                    raise AssertionError(f"got {len(self.messages)} of {n} messages in {timeout:.1f}s; "
                                         f"first ones: {got}")
                self.lock.wait(left)
            return list(self.messages)

    def take(self, n, timeout=3.0):
        """Waits for n messages, removes them from the buffer and returns them."""
        self.wait_messages(n, timeout)
        with self.lock:
            out = self.messages[:n]
            del self.messages[:n]
            return out

    def wait_for(self, predicate, count=1, timeout=3.0, what=None):
        """Waits until `count` received messages satisfy predicate(msg); returns them (they stay
        in the buffer)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if len(found) >= count:
                    return found[:count]
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(m.topic, m.payload[:40]) for m in self.messages[-20:]]
                    raise AssertionError(f"{what or 'matching messages'}: {len(found)} of {count} in "
                                         f"{timeout:.1f}s; last ones received: {got}")
                self.lock.wait(left)

    def take_until_marker(self, publisher, topic, qos=2, timeout=3.0):
        """`publisher` (a Client or RawClient, possibly this one) publishes a marker to `topic`,
        which this client must be subscribed to; waits for it and returns the messages received
        before it, taking them and the marker out of the buffer. The broker appends to one
        session queue in order, so whatever it routed to this client before the marker (a
        duplicate, a message that should have been dropped) is among them. QoS 2 by default:
        paho hands a QoS 2 message over only at its PUBREL, a round trip after a QoS 0/1 one
        sent later, so the marker must not have a lower QoS than what it is to follow."""
        token = marker_payload()
        publisher.publish(topic, token, qos=qos)
        self.wait_for(lambda m: m.payload == token, timeout=timeout, what=f"marker on {topic!r}")
        with self.lock:
            i = next(i for i, m in enumerate(self.messages) if m.payload == token)
            before = self.messages[:i]
            del self.messages[:i + 1]
            return before

    def expect_only_marker(self, publisher, topic, qos=2, timeout=3.0):
        """Asserts that no message arrives before a marker (see take_until_marker)."""
        before = self.take_until_marker(publisher, topic, qos, timeout)
        assert not before, "unexpected messages: %r" % [(m.topic, m.payload[:40]) for m in before]

    def expect_no_message(self, wait=0.3):
        """A fixed wait: prefer expect_only_marker, which waits for an event."""
        time.sleep(wait)
        with self.lock:
            assert not self.messages, "unexpected messages: %r" % [
                (m.topic, m.payload[:40]) for m in self.messages]

    def clear(self):
        with self.lock:
            self.messages.clear()

    def disconnect(self, reason=None, properties=None):
        if self.version == 5 and reason is not None:
            from paho.mqtt.reasoncodes import ReasonCodes
            rc = ReasonCodes(PacketTypes.DISCONNECT, identifier=reason)
            self.c.disconnect(rc, properties)
        else:
            self.c.disconnect()
        self.disconnected.wait(2)
        self.c.loop_stop()

    def kill(self):
        """Closes the socket without DISCONNECT (an abnormal disconnect for the broker)."""
        self.c.loop_stop()
        sock = self.c.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def stop(self):
        try:
            self.c.disconnect()
        except Exception:
            pass
        self.c.loop_stop()


# ------------------------------------------------------------------------------------------
def drain_shared_group(members, publisher, topic, qos=1, max_markers=30, timeout=5.0):
    """For shared subscription groups: publishes markers to `topic` until every one of
    `members` has received one (each marker goes to one member of each group), so that
    everything routed to them before has arrived; then removes the markers from their
    buffers. Bounded by max_markers and timeout."""
    deadline = time.monotonic() + timeout

    def holders(token):
        out = set()
        for i, m in enumerate(members):
            with m.lock:
                if any(x.payload == token for x in m.messages):
                    out.add(i)
        return out

    seen = set()
    for _ in range(max_markers):
        token = marker_payload()
        publisher.publish(topic, token, qos=qos)
        seen |= wait_until(lambda: holders(token), max(0.1, deadline - time.monotonic()),
                           what=f"marker on {topic!r} at a member", interval=0.002)
        if len(seen) == len(members):
            break
    else:
        raise AssertionError(f"{max_markers} markers reached only {len(seen)} of {len(members)} members")
    for m in members:
        with m.lock:
            m.messages[:] = [x for x in m.messages if not is_marker(x.payload)]


def assert_healthy(broker, version=4):
    """The broker process is alive and a fresh subscriber/publisher pair still works."""
    assert broker.alive(), f"broker process died (exit code {broker.proc.returncode})"
    topic = "health/" + unique_id()
    sub = RawClient(broker, version)
    sub.connect(unique_id("hs"), version=version)
    sub.subscribe(topic, 1)
    pub = RawClient(broker, version)
    pub.connect(unique_id("hp"), version=version)
    pub.publish(topic, b"ping", qos=1)
    p = sub.recv_publish(timeout=3)
    assert p.topic == topic and p.payload == b"ping"
    pub.disconnect()
    sub.disconnect()
    assert broker.alive()
