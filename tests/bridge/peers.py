"""Real peers for the bridge tests, each on free loopback ports: MusQraTT (edge or upstream),
Debian's Mosquitto, a three-server nats-server cluster with MQTT and JetStream, and a TCP
proxy that can be made to stop forwarding without closing (a link that goes silent)."""
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
MUSQRATT_BIN = os.environ.get("MUSQRATT_BIN") or str(REPO_ROOT / "build" / "bin" / "musqratt")
MOSQUITTO_BIN = os.environ.get("MOSQUITTO_BIN", "/usr/sbin/mosquitto")
NATS_BIN = os.environ.get("NATS_BIN", "/usr/sbin/nats-server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


class Process:
    """A peer process with its log in a file of its own."""

    def __init__(self, name, tmpdir):
        self.name = name
        self.tmpdir = Path(tmpdir)
        self.proc = None
        self.log_path = self.tmpdir / f"{name}.log"
        self.args = []
        self.runs = 0

    def _spawn(self, args):
        self.args = args
        self.runs += 1
        with open(self.log_path, "ab") as logf:
            logf.write(f"\n===== start {self.runs}: {' '.join(args)}\n".encode())
            logf.flush()
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def last_run_log(self):
        text = self.log()
        marker = f"===== start {self.runs}:"
        return text[text.rfind(marker):] if marker in text else text

    def wait_log(self, pattern, timeout=10.0, count=1):
        """Waits for `count` matches of `pattern` in this run's log; returns the last match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = rx.findall(self.last_run_log())
            if len(found) >= count:
                return found[-1]
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: no '{pattern}' in the log within {timeout}s\n"
                             f"--- {self.name} log (end) ---\n{self.last_run_log()[-4000:]}")

    stop_signal = signal.SIGTERM

    def stop(self, timeout=10.0):
        """Stops the process (stop_signal) and waits; returns an error text if it had died or hung."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            rc = self.proc.returncode
            self.proc = None
            return None if rc == 0 else f"{self.name} had exited with {rc}"
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            return f"{self.name} did not exit within {timeout}s of SIGTERM"
        rc = self.proc.returncode
        self.proc = None
        return None if rc in (0, -self.stop_signal) else f"{self.name} exited with {rc} after {self.stop_signal.name}"

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None


class MusQraTT(Process):
    """The broker; `config` is TOML text (bridges go there), `args` extra flags."""

    def __init__(self, name, tmpdir, config="", args=(), port=None, persistence=False):
        super().__init__(name, tmpdir)
        self.port = port or free_port()
        self.config = config
        self.extra = list(args)
        self.data_dir = self.tmpdir / f"{name}-data"
        self.persistence = persistence

    def start(self, timeout=10.0):
        conf = self.tmpdir / f"{self.name}.toml"
        conf.write_text(self.config)
        args = [MUSQRATT_BIN, "--config", str(conf), "--listen", f"127.0.0.1:{self.port}", "--log-level", "debug",
                "--threads", "2"]
        if self.persistence:
            args += ["--persistence", "true", "--persistence-dir", str(self.data_dir)]
        self._spawn(args + self.extra)
        if not wait_port(self.port, timeout, self.proc):
            raise AssertionError(f"{self.name} did not listen on {self.port}\n{self.last_run_log()[-4000:]}")
        return self


class Mosquitto(Process):
    """Debian's Mosquitto with a generated configuration (`extra` lines appended)."""

    def __init__(self, name, tmpdir, extra=(), port=None, persistence=False):
        super().__init__(name, tmpdir)
        self.port = port or free_port()
        self.extra = list(extra)
        self.persistence = persistence

    def start(self, timeout=10.0):
        conf = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "log_dest stderr",
                "log_type error", "log_type warning", "log_type notice", "log_type information",
                # 0 would stop delivery altogether in mosquitto 2.0.11
                "max_queued_messages 1000000", "max_inflight_messages 0"]
        if self.persistence:
            # Mosquitto started as root runs as user mosquitto: its directory must be its own.
            store = self.tmpdir / f"{self.name}-data"
            store.mkdir(exist_ok=True)
            os.chmod(store, 0o777)
            conf += ["persistence true", f"persistence_location {store}/", f"persistence_file {self.name}.db"]
        conf += self.extra
        path = self.tmpdir / f"{self.name}.conf"
        path.write_text("\n".join(conf) + "\n")
        self._spawn([MOSQUITTO_BIN, "-c", str(path)])
        if not wait_port(self.port, timeout, self.proc):
            raise AssertionError(f"{self.name} did not listen on {self.port}\n{self.last_run_log()[-4000:]}")
        return self


class NatsCluster:
    """Three nats-server processes in one cluster, each with JetStream and an MQTT listener."""

    def __init__(self, tmpdir, size=3):
        self.tmpdir = Path(tmpdir)
        self.nodes = []
        routes = [free_port() for _ in range(size)]
        for i in range(size):
            node = Process(f"nats{i}", tmpdir)
            node.stop_signal = signal.SIGINT  # nats-server exits 1 on SIGTERM, 0 on SIGINT
            node.client_port = free_port()
            node.mqtt_port = free_port()
            node.route_port = routes[i]
            conf = f"""
server_name: n{i}
listen: 127.0.0.1:{node.client_port}
jetstream {{ store_dir: "{self.tmpdir}/js{i}" }}
cluster {{
  name: edge-test
  listen: 127.0.0.1:{routes[i]}
  routes: [{", ".join(f"nats-route://127.0.0.1:{p}" for j, p in enumerate(routes) if j != i)}]
}}
mqtt {{ listen: 127.0.0.1:{node.mqtt_port} }}
"""
            path = self.tmpdir / f"nats{i}.conf"
            path.write_text(conf)
            node.conf = path
            self.nodes.append(node)

    def start(self, timeout=30.0):
        for node in self.nodes:
            node._spawn([NATS_BIN, "-c", str(node.conf)])
        for node in self.nodes:
            if not wait_port(node.mqtt_port, timeout, node.proc):
                raise AssertionError(f"{node.name} did not listen\n{node.log()[-4000:]}")
        # JetStream needs its meta leader before MQTT sessions can be made.
        for node in self.nodes:
            node.wait_log(r"JetStream cluster new metadata leader|Server is ready", timeout)
        return self

    def stop(self):
        return [e for e in (n.stop() for n in self.nodes) if e]


class StallingProxy:
    """Forwards TCP from a listening port to a target. stall() stops moving bytes both ways
    while keeping every connection open (a link that goes silent, not one that closes);
    resume() forwards again; refuse() closes everything and stops accepting."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.stalled = threading.Event()
        self.stop_flag = False
        self.pairs = []
        self.connections = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_flag:
            socks = [self.listener]
            with self.lock:
                for a, b in self.pairs:
                    socks += [a, b]
            if self.stalled.is_set():
                socks = [self.listener]  # nothing is read while stalled
            try:
                ready, _, _ = select.select(socks, [], [], 0.1)
            except (OSError, ValueError):
                continue
            for s in ready:
                if s is self.listener:
                    try:
                        c, _ = self.listener.accept()
                        u = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
                    except OSError:
                        try:
                            c.close()
                        except Exception:
                            pass
                        continue
                    with self.lock:
                        self.pairs.append((c, u))
                        self.connections += 1
                    continue
                if self.stalled.is_set():
                    continue
                peer = None
                with self.lock:
                    for a, b in self.pairs:
                        if s is a:
                            peer = b
                        elif s is b:
                            peer = a
                if peer is None:
                    continue
                try:
                    data = s.recv(1 << 16)
                except OSError:
                    data = b""
                if not data:
                    self._drop(s)
                    continue
                try:
                    peer.sendall(data)
                except OSError:
                    self._drop(s)

    def _drop(self, s):
        with self.lock:
            for pair in list(self.pairs):
                if s in pair:
                    self.pairs.remove(pair)
                    for x in pair:
                        try:
                            x.close()
                        except OSError:
                            pass

    def stall(self):
        self.stalled.set()

    def resume(self):
        self.stalled.clear()

    def close(self):
        self.stop_flag = True
        self.thread.join(timeout=2)
        with self.lock:
            for a, b in self.pairs:
                a.close()
                b.close()
            self.pairs.clear()
        self.listener.close()


def bridge_table(name, port, topics, protocol="mqttv311", **keys):
    """A [[bridge]] table as TOML text; `topics` is a list of dicts."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = ["[[bridge]]", f"name = {value(name)}",
             f"address = {value(port if isinstance(port, (list, str)) else f'127.0.0.1:{port}')}",
             f"protocol = {value(protocol)}"]
    keys.setdefault("reconnect_min_ms", 100)
    keys.setdefault("reconnect_max_ms", 500)
    for k, v in keys.items():
        lines.append(f"{k} = {value(v)}")
    entries = []
    for t in topics:
        entries.append("{ " + ", ".join(f"{k} = {value(v)}" for k, v in t.items()) + " }")
    lines.append("topics = [" + ", ".join(entries) + "]")
    return "\n".join(lines) + "\n"
