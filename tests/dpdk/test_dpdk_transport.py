"""End-to-end tests of the DPDK + lwIP transport, once per DPDK port type.

Two network namespaces (tests/dpdk/netns.sh): the broker runs in one with `--transport dpdk`,
the clients (stock mosquitto_pub/mosquitto_sub and paho-mqtt) in the other against 10.99.0.2.
Every test runs for each port type (PMD); tests/dpdk/ports.sh wires each one:
net_af_packet and net_af_xdp on the broker end of a veth pair, net_tap whose kernel side is
moved into the client namespace, and net_memif served to a dpdk-testpmd that forwards between
it and a net_af_packet port on the veth pair. This process itself enters the client namespace
for the paho clients; nothing is configured outside the two namespaces, which are deleted at
the end even when a test fails. test_two_queues restarts the broker with --dpdk-queues 2 on the
port types that have two queues here (af_packet with qpairs=2, tap) and checks from the
per-queue counts logged at exit that both RX queues delivered frames.

Run with Debian's interpreter, as root: /usr/bin/python3 -m pytest tests/dpdk
Environment: MUSQRATT_BIN (default build-dpdk/bin/musqratt), MQ_DPDK_RUN_ID (namespace id),
MQ_DPDK_PMDS (space-separated subset of: af_packet af_xdp tap memif).
"""
import ctypes
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
NETNS_SH = HERE / "netns.sh"
PORTS_SH = HERE / "ports.sh"
MUSQRATT_BIN = os.environ.get("MUSQRATT_BIN") or str(REPO / "build-dpdk" / "bin" / "musqratt")
RUN_ID = os.environ.get("MQ_DPDK_RUN_ID") or secrets.token_hex(3)
BROKER_IP = "10.99.0.2"
PORT = 1883
TEST_TIMEOUT = 60  # seconds per test, enforced with SIGALRM
PMDS = (os.environ.get("MQ_DPDK_PMDS") or "af_packet af_xdp tap memif").split()

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
libc = ctypes.CDLL(None, use_errno=True)

if os.geteuid() != 0:
    pytest.skip("needs root (network namespaces)", allow_module_level=True)
if not Path(MUSQRATT_BIN).exists():
    pytest.skip(f"{MUSQRATT_BIN} not built (scripts/build-dpdk.sh)", allow_module_level=True)


def netns(*args):
    subprocess.run(["bash", str(NETNS_SH), *args], check=True, timeout=30)


def ports(*args):
    out = subprocess.run(["bash", str(PORTS_SH), *args], check=True, capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def names():
    out = subprocess.run(["bash", str(NETNS_SH), "names", RUN_ID], check=True, capture_output=True, text=True)
    return out.stdout.split()


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {path}")
    finally:
        os.close(fd)


def die_with_parent():
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Broker:
    """musqratt --transport dpdk in the broker namespace, on a port of type `pmd`."""

    def __init__(self, pmd, broker_ns):
        self.pmd = pmd
        self.ns = broker_ns
        self.proc = None
        self.peer = None  # memif: the dpdk-testpmd between the memif and the veth pair
        self.dir = tempfile.TemporaryDirectory(prefix="musqratt-dpdk-")  # memif socket
        self.log = tempfile.NamedTemporaryFile(prefix=f"musqratt-dpdk-{pmd}-", suffix=".log", delete=False)
        self.peer_log = (tempfile.NamedTemporaryFile(prefix="musqratt-dpdk-testpmd-", suffix=".log", delete=False)
                         if pmd == "memif" else None)

    def start(self, *extra, devargs=""):
        """Starts the broker with `extra` arguments; `devargs` is appended to the port's --vdev."""
        vdev = ports("vdev", self.pmd, RUN_ID, self.dir.name) + devargs
        eal = f"--no-huge --no-pci --no-shconf --no-telemetry -l 0 --file-prefix mqd{RUN_ID} {vdev}"
        cmd = ["ip", "netns", "exec", self.ns, MUSQRATT_BIN, "--transport", "dpdk", "--dpdk-eal-args", eal,
               "--dpdk-ip", BROKER_IP, "--dpdk-netmask", "255.255.255.0", "--listen", f"0.0.0.0:{PORT}",
               "--allow-anonymous", "true", "--dpdk-idle-sleep-us", "50", "--sys-interval", "0", *extra]
        self.log.seek(0)
        self.log.truncate()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 15
        attached = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.log_text()}")
            if self.peer is not None and self.peer.poll() is not None:
                raise RuntimeError(f"dpdk-testpmd exited with {self.peer.returncode}:\n{self.peer_log_text()}")
            if "running" in self.log_text():
                if not attached:
                    self._attach()
                    attached = True
                try:  # also proves ARP and the TCP handshake through lwIP
                    with socket.create_connection((BROKER_IP, PORT), timeout=1):
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"broker did not start:\n{self.log_text()}\n{self.peer_log_text()}")

    def _attach(self):
        ports("attach", self.pmd, RUN_ID)
        if self.pmd == "memif":  # the memif client connects to the broker's socket
            self.peer_log.seek(0)
            self.peer_log.truncate()
            self.peer = subprocess.Popen(["bash", str(PORTS_SH), "peer", self.pmd, RUN_ID, self.dir.name],
                                         stdin=subprocess.DEVNULL, stdout=self.peer_log, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        try:
            return self._stop(self.proc, sig, timeout)
        finally:  # after the broker: its last segments and FINs still go through the peer
            self._stop(self.peer, signal.SIGTERM, 10)
            self.peer = None

    @staticmethod
    def _stop(proc, sig, timeout):
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            raise

    def log_text(self):
        return Path(self.log.name).read_text(errors="replace")

    def peer_log_text(self):
        return Path(self.peer_log.name).read_text(errors="replace") if self.peer_log else ""


def xdp_refusal(pmd, log):
    """The log line saying the kernel refused an AF_XDP socket or its BPF program (permission,
    or no support), or None. Only that: any other start-up failure is a failure."""
    if pmd != "af_xdp":
        return None
    refusals = ("Operation not permitted", "Permission denied", "Operation not supported", "Function not implemented")
    for line in log.splitlines():
        if any(w in line.lower() for w in ("xsk", "xdp", "bpf")) and any(r in line for r in refusals):
            return line.strip()
    return None


@pytest.fixture(scope="module", params=PMDS)
def env(request):
    pmd = request.param
    client_ns, broker_ns, _, _ = names()
    netns("up", RUN_ID, ports("link", pmd))
    original = os.open("/proc/self/ns/net", os.O_RDONLY)
    broker = Broker(pmd, broker_ns)
    try:
        setns(f"/run/netns/{client_ns}")  # paho and the mosquitto tools run in the client namespace
        try:
            broker.start()
        except RuntimeError as e:
            refusal = xdp_refusal(pmd, str(e))
            if refusal:  # a kernel or container without AF_XDP for us: say so, do not fail
                pytest.skip(f"the kernel refused AF_XDP: {refusal}")
            raise
        yield broker
    finally:
        try:
            broker.stop()
        finally:
            if libc.setns(original, CLONE_NEWNET) != 0:
                print("warning: could not return to the original network namespace", file=sys.stderr)
            os.close(original)
            netns("down", RUN_ID)
            ports("clean", "any", RUN_ID)
            broker.dir.cleanup()
            print(f"broker log: {broker.log.name}" + (f", testpmd log: {broker.peer_log.name}" if broker.peer_log else ""))


@pytest.fixture(autouse=True)
def bounded(env, request):
    def expire(*_):
        raise TimeoutError(f"test exceeded {TEST_TIMEOUT}s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)
    assert env.proc.poll() is None, f"broker died:\n{env.log_text()[-3000:]}"
    assert env.peer is None or env.peer.poll() is None, f"dpdk-testpmd died:\n{env.peer_log_text()[-3000:]}"


# --- helpers -----------------------------------------------------------------------------


class Client:
    """A paho client with a queue of received messages."""

    def __init__(self, client_id="", protocol=mqtt.MQTTv311, will=None, clean=True):
        kw = {"clean_session": clean} if protocol != mqtt.MQTTv5 else {}
        self.c = mqtt.Client(client_id=client_id, protocol=protocol, **kw)
        # TCP's own SYN retransmissions (1 s, 3 s, 7 s) must get their chance: on a loaded machine
        # a forwarding peer (memif's dpdk-testpmd) can drop a frame, and paho gives up after 5 s.
        self.c._connect_timeout = 15.0  # this paho (1.6) has no public setter
        self.messages = []
        self.cond = threading.Condition()
        self.connack = None
        self.disconnected = threading.Event()
        self.disconnect_rcs = []
        self.subacked = threading.Event()
        self.c.on_message = self._on_message
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_subscribe = lambda *a: self.subacked.set()
        if will:
            self.c.will_set(*will)

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        with self.cond:
            self.connack = rc
            self.cond.notify_all()

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnect_rcs.append(getattr(rc, "value", rc))  # paho: reason code, then "connection lost"
        self.disconnected.set()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append(msg)
            self.cond.notify_all()

    def connect(self, timeout=10):
        self.c.connect(BROKER_IP, PORT, keepalive=30)
        self.c.loop_start()
        with self.cond:
            assert self.cond.wait_for(lambda: self.connack is not None, timeout), "no CONNACK"
        assert self.connack == 0, f"CONNACK {self.connack}"
        return self

    def subscribe(self, topic, qos=0, timeout=10):
        self.subacked.clear()
        self.c.subscribe(topic, qos)
        assert self.subacked.wait(timeout), "no SUBACK"

    def wait_messages(self, n, timeout=20):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.messages) >= n, timeout)
        assert ok, f"got {len(self.messages)} of {n} messages"
        return self.messages

    def close(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()


def run(cmd, timeout=20, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)


# Port types that get two queue pairs here, with the --vdev devargs that give them (net_tap
# makes as many queues as the port is configured with); the others, and why they are left out.
MULTIQUEUE_DEVARGS = {"af_packet": ",qpairs=2", "tap": ""}
MULTIQUEUE_UNTESTED = {
    "af_xdp": "the veth pair of netns.sh has one queue; queue_count=2 needs a two-queue veth",
    "memif": "a memif's queues are its peer's, and the dpdk-testpmd peer forwards on one queue",
}
PER_QUEUE_RE = re.compile(r"frames received per rx queue: (.*)")
RECEIVED_RE = re.compile(r"dpdk port: (\d+) frames received")


# --- tests -------------------------------------------------------------------------------


def test_connect_311_and_5():
    for proto in (mqtt.MQTTv311, mqtt.MQTTv5):
        c = Client(protocol=proto).connect()
        c.close()


def test_mosquitto_tools_pub_sub():
    sub = subprocess.Popen(["mosquitto_sub", "-h", BROKER_IP, "-t", "tools/t", "-C", "3", "-W", "15", "-q", "2"],
                           stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        for q in (0, 1, 2):
            r = run(["mosquitto_pub", "-h", BROKER_IP, "-t", "tools/t", "-m", f"m{q}", "-q", str(q)])
            assert r.returncode == 0, r.stderr
        out, _ = sub.communicate(timeout=20)
    finally:
        sub.kill()
    assert out.split() == ["m0", "m1", "m2"]


@pytest.mark.parametrize("proto", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_qos_0_1_2(proto):
    sub = Client(protocol=proto).connect()
    pub = Client(protocol=proto).connect()
    try:
        sub.subscribe("qos/#", 2)
        for i in range(30):
            pub.c.publish(f"qos/{i % 3}", f"p{i}", qos=i % 3).wait_for_publish(10)
        msgs = sub.wait_messages(30)
        assert sorted(m.payload.decode() for m in msgs) == sorted(f"p{i}" for i in range(30))
        for m in msgs:
            assert m.qos == int(m.topic.split("/")[1])
        # per-QoS order is kept
        for q in range(3):
            seq = [int(m.payload[1:]) for m in msgs if m.qos == q]
            assert seq == sorted(seq)
    finally:
        sub.close()
        pub.close()


def test_retained():
    r = run(["mosquitto_pub", "-h", BROKER_IP, "-t", "ret/a", "-m", "kept", "-r", "-q", "1"])
    assert r.returncode == 0, r.stderr
    r = run(["mosquitto_sub", "-h", BROKER_IP, "-t", "ret/#", "-C", "1", "-W", "10", "-v"])
    assert r.returncode == 0 and r.stdout.decode().strip() == "ret/a kept"
    c = Client().connect()
    try:
        c.subscribe("ret/a", 1)
        m = c.wait_messages(1)[0]
        assert m.retain and m.payload == b"kept"
    finally:
        c.close()
    run(["mosquitto_pub", "-h", BROKER_IP, "-t", "ret/a", "-n", "-r"])  # clear
    r = run(["mosquitto_sub", "-h", BROKER_IP, "-t", "ret/#", "-C", "1", "-W", "2"])
    assert r.stdout == b""


WILL_CLIENT = r"""
import sys, time, paho.mqtt.client as mqtt
c = mqtt.Client(client_id=sys.argv[1])
c.will_set("will/" + sys.argv[1], "gone", qos=1)
c.connect(sys.argv[2], int(sys.argv[3]), keepalive=30)
c.loop_start()
time.sleep(0.5)
print("connected", flush=True)
time.sleep(60)
"""


def test_will_on_killed_client():
    watcher = Client().connect()
    try:
        watcher.subscribe("will/#", 1)
        p = subprocess.Popen(["/usr/bin/python3", "-c", WILL_CLIENT, "victim", BROKER_IP, str(PORT)],
                             stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
        try:
            assert p.stdout.readline().strip() == "connected"
        finally:
            p.kill()
            p.wait(5)
        m = watcher.wait_messages(1, timeout=10)[0]
        assert (m.topic, m.payload) == ("will/victim", b"gone")
    finally:
        watcher.close()


def test_will_on_reset_connection():
    """An RST (no FIN, no DISCONNECT): lwIP's error callback closes the connection."""
    watcher = Client().connect()
    try:
        watcher.subscribe("will/#", 1)
        s = socket.create_connection((BROKER_IP, PORT), timeout=5)
        # MQTT 3.1.1 CONNECT, client id "rst", will will/rst = "reset", QoS 1
        def s16(b):
            return struct.pack("!H", len(b)) + b
        var = s16(b"MQTT") + bytes([4, 0x04 | 0x08 | 0x02]) + struct.pack("!H", 30)
        body = var + s16(b"rst") + s16(b"will/rst") + s16(b"reset")
        s.sendall(bytes([0x10, len(body)]) + body)
        assert s.recv(4) == b"\x20\x02\x00\x00"
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST
        m = watcher.wait_messages(1, timeout=10)[0]
        assert (m.topic, m.payload) == ("will/rst", b"reset")
    finally:
        watcher.close()


def test_many_clients():
    n = 50
    clients = []
    try:
        for i in range(n):
            c = Client(client_id=f"many-{i}").connect()
            c.subscribe(f"many/{i}", 1)
            c.subscribe("many/all", 0)
            clients.append(c)
        for i, c in enumerate(clients):
            c.c.publish(f"many/{(i + 1) % n}", f"from {i}", qos=1)
        clients[0].c.publish("many/all", "everyone", qos=0)
        for i, c in enumerate(clients):
            msgs = c.wait_messages(2)
            got = sorted(m.payload.decode() for m in msgs)
            assert got == sorted([f"from {(i - 1) % n}", "everyone"]), (i, got)
    finally:
        for c in clients:
            c.close()


def test_large_payloads():
    big = os.urandom(200 * 1024)
    # mosquitto tools, QoS 1, one 200 KiB message
    with tempfile.NamedTemporaryFile() as f:
        f.write(big)
        f.flush()
        sub = subprocess.Popen(["mosquitto_sub", "-h", BROKER_IP, "-t", "big/tool", "-C", "1", "-W", "15", "-q", "1",
                                "-N"], stdout=subprocess.PIPE)
        try:
            time.sleep(0.5)
            r = run(["mosquitto_pub", "-h", BROKER_IP, "-t", "big/tool", "-f", f.name, "-q", "1"])
            assert r.returncode == 0, r.stderr
            out, _ = sub.communicate(timeout=20)
        finally:
            sub.kill()
        assert out == big
    # paho: 25 messages of 200 KiB (5 MB) to two subscribers, so lwIP's send buffer fills and
    # tcp_sent back-pressure has to resume the writes
    subs = [Client().connect() for _ in range(2)]
    pub = Client().connect()
    try:
        for s in subs:
            s.subscribe("big/paho", 1)
        payloads = [bytes([i]) + os.urandom(200 * 1024 - 1) for i in range(25)]
        infos = [pub.c.publish("big/paho", p, qos=1) for p in payloads]
        for info in infos:
            info.wait_for_publish(30)
        for s in subs:
            got = [m.payload for m in s.wait_messages(25, timeout=40)]
            assert got == payloads
    finally:
        for c in subs + [pub]:
            c.close()


def test_client_disconnects(env):
    # clean DISCONNECT, socket close without DISCONNECT, and a half-open TCP connection that
    # never sends CONNECT: none may disturb the others
    stay = Client(client_id="stay").connect()
    try:
        stay.subscribe("dc/#", 1)
        for i in range(5):
            Client(client_id=f"dc-clean-{i}").connect().close()
            s = socket.create_connection((BROKER_IP, PORT), timeout=5)
            s.close()
        idle = socket.create_connection((BROKER_IP, PORT), timeout=5)
        r = run(["mosquitto_pub", "-h", BROKER_IP, "-t", "dc/x", "-m", "still here", "-q", "1"])
        assert r.returncode == 0
        assert stay.wait_messages(1)[0].payload == b"still here"
        idle.close()
    finally:
        stay.close()
    # each of the 11 other connections was closed by the broker exactly once
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and env.log_text().count("disconnected from") < 5:
        time.sleep(0.1)
    assert env.log_text().count("client 'dc-clean-") >= 10  # connected + disconnected lines


def test_two_queues(env):
    """--dpdk-queues 2: the one lwIP polls both RX queues; every message of 20 clients arrives
    and the per-queue counts logged at exit show that both queues delivered frames."""
    if env.pmd not in MULTIQUEUE_DEVARGS:
        pytest.skip(MULTIQUEUE_UNTESTED[env.pmd])
    env.stop()
    clients = []
    try:
        env.start("--dpdk-queues", "2", devargs=MULTIQUEUE_DEVARGS[env.pmd])
        assert "2 rx/tx queue pair(s)" in env.log_text()
        n, per_client = 20, 10
        for i in range(n):
            c = Client(client_id=f"mq-{i}").connect()
            c.subscribe(f"mq/{i}", 1)
            clients.append(c)
        # QoS 1 round trips: each client publishes to the next one's topic and waits for PUBACK
        infos = [c.c.publish(f"mq/{(i + 1) % n}", f"{i}:{k}", qos=1)
                 for k in range(per_client) for i, c in enumerate(clients)]
        for info in infos:
            info.wait_for_publish(20)
            assert info.is_published()
        for i, c in enumerate(clients):
            got = [m.payload.decode() for m in c.wait_messages(per_client)]
            assert got == [f"{(i - 1) % n}:{k}" for k in range(per_client)], (i, got)
        for c in clients:
            c.close()
        clients = []
        assert env.stop(signal.SIGTERM) == 0, env.log_text()[-2000:]
        log = env.log_text()
        m = PER_QUEUE_RE.search(log)
        assert m, log[-2000:]
        counts = [int(part.split(": ")[1]) for part in m.group(1).split(", ")]
        print(f"{env.pmd}: frames received per rx queue: {counts}")
        assert len(counts) == 2
        assert sum(counts) == int(RECEIVED_RE.search(log).group(1))
        assert all(k > 0 for k in counts), f"an rx queue received nothing: {counts}"
    finally:
        for c in clients:
            c.close()
        env.stop()
        env.start()  # for any test after this one


def test_queue_count_beyond_port(env):
    """More queues than the port has, or none: start-up fails with a clear message."""
    env.stop()
    try:
        # 256: more than any of the four ports offers (memif: 255, tap: 16, the others: 1 here)
        with pytest.raises(RuntimeError, match="broker exited with 1"):
            env.start("--dpdk-queues", "256")
        m = re.search(r"port 0 \(net_\w+\) supports at most (\d+) rx and (\d+) tx queues; dpdk_queues = 256 "
                      r"cannot be configured", env.log_text())
        assert m, env.log_text()[-2000:]
        assert int(m.group(1)) < 256 and int(m.group(2)) < 256
        with pytest.raises(RuntimeError, match="broker exited with 1"):
            env.start("--dpdk-queues", "0")
        assert "dpdk_queues: expected 1 or more" in env.log_text()
    finally:
        env.start()


def raw_connect_v5(client_id):
    """A bare MQTT 5.0 connection (paho 1.6 drops a DISCONNECT's lone reason code)."""
    def s16(b):
        return struct.pack("!H", len(b)) + b
    s = socket.create_connection((BROKER_IP, PORT), timeout=10)
    body = s16(b"MQTT") + bytes([5, 0x02]) + struct.pack("!H", 30) + b"\x00" + s16(client_id)
    s.sendall(bytes([0x10, len(body)]) + body)
    connack = s.recv(100)
    assert connack[:1] == b"\x20" and connack[3] == 0, connack
    return s


def test_shutdown_sigterm(env):
    """SIGTERM: connected clients are told (5.0: DISCONNECT 0x8B) and closed; the broker exits 0."""
    c5 = raw_connect_v5(b"shut5")
    c3 = Client().connect()
    try:
        rc = env.stop(signal.SIGTERM, timeout=10)
        assert rc == 0, env.log_text()[-2000:]
        data = b""
        while chunk := c5.recv(100):  # until the broker's FIN
            data += chunk
        assert data == b"\xe0\x01\x8b", data  # DISCONNECT, Server shutting down
        assert c3.disconnected.wait(10)
        log = env.log_text()
        assert "shutting down" in log and "stopped" in log
    finally:
        c5.close()
        c3.c.loop_stop()
        env.start()  # for any test after this one
