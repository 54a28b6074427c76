"""Interoperability with Mosquitto's command-line clients (mosquitto_pub / mosquitto_sub)."""
import shutil
import subprocess
import time

import pytest

from mqtt_helpers import Client

pytestmark = pytest.mark.skipif(not shutil.which("mosquitto_pub") or not shutil.which("mosquitto_sub"),
                                reason="mosquitto-clients not installed")

VERSIONS = {"mqttv311": 4, "mqttv5": 5, "mqttv31": 3}


class Sub:
    """mosquitto_sub in debug mode (-d): waits for its SUBACK, then filters the debug lines
    out of its output."""

    def __init__(self, broker, *args):
        cmd = ["stdbuf", "-oL", "mosquitto_sub", "-d", "-h", broker.host, "-p", str(broker.port), "-W", "10"] + list(args)
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.debug = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if not line:
                break
            self.debug.append(line)
            if line.startswith(b"Subscribed"):
                return
        raise AssertionError(f"mosquitto_sub did not subscribe: {self.debug} {self.p.stderr.read()}")

    def lines(self, timeout=10):
        out, err = self.p.communicate(timeout=timeout)
        assert self.p.returncode == 0, (self.p.returncode, err.decode(), out.decode())
        return [ln for ln in out.decode().splitlines() if not ln.startswith(("Client ", "Subscribed"))]


def _sub(broker, *args):
    return Sub(broker, *args)


def _pub(broker, *args):
    cmd = ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port)] + list(args)
    r = subprocess.run(cmd, capture_output=True, timeout=10)
    assert r.returncode == 0, f"{cmd} -> {r.returncode}: {r.stderr.decode()}"
    return r


@pytest.mark.parametrize("proto", ["mqttv311", "mqttv5", "mqttv31"])
@pytest.mark.parametrize("qos", ["0", "1", "2"])
def test_pub_sub_count(broker, proto, qos):
    sub = _sub(broker, "-V", proto, "-q", qos, "-t", "cli/t", "-C", "3", "-v")
    for i in range(3):
        _pub(broker, "-V", proto, "-q", qos, "-t", "cli/t", "-m", f"msg{i}")
    assert sub.lines() == [f"cli/t msg{i}" for i in range(3)]


@pytest.mark.parametrize("proto", ["mqttv311", "mqttv5"])
def test_retained_with_cli(broker, proto):
    _pub(broker, "-V", proto, "-q", "2", "-r", "-t", "cli/ret", "-m", "kept")
    r = subprocess.run(["mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-V", proto,
                        "-t", "cli/ret", "-C", "1", "-W", "5", "-F", "%r %q %t %p"],
                       capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().strip() == "1 0 cli/ret kept"
    # clear it with an empty retained message: a new subscriber then gets nothing before a
    # marker published once it has subscribed
    _pub(broker, "-V", proto, "-r", "-t", "cli/ret", "-n")
    sub = _sub(broker, "-V", proto, "-t", "cli/ret", "-t", "cli/ret-marker", "-C", "1", "-v")
    _pub(broker, "-V", proto, "-t", "cli/ret-marker", "-m", "marker")
    assert sub.lines() == ["cli/ret-marker marker"]


def test_cli_to_paho_and_back(broker):
    c = Client(broker, version=5)
    c.subscribe("cli/in", 2)
    _pub(broker, "-V", "mqttv5", "-q", "2", "-t", "cli/in", "-m", "from-cli",
         "-D", "publish", "user-property", "k", "v", "-D", "publish", "content-type", "text/x")
    m = c.take(1)[0]
    assert m.payload == b"from-cli" and m.qos == 2
    assert m.properties.UserProperty == [("k", "v")]
    assert m.properties.ContentType == "text/x"
    sub = _sub(broker, "-V", "mqttv311", "-q", "1", "-t", "cli/out", "-C", "1")
    c.publish("cli/out", b"from-paho", qos=1)
    assert sub.lines() == ["from-paho"]


def test_cli_wildcards_and_file_payload(broker, tmp_path):
    payload = bytes(range(256)) * 40  # 10 KB binary
    f = tmp_path / "blob.bin"
    f.write_bytes(payload)
    sub = _sub(broker, "-V", "mqttv5", "-q", "1", "-t", "cli/+/blob", "-C", "1", "-F", "%t %x")
    _pub(broker, "-V", "mqttv5", "-q", "1", "-t", "cli/x/blob", "-f", str(f))
    assert sub.lines() == ["cli/x/blob " + payload.hex()]


def test_cli_many_lines(broker):
    sub = _sub(broker, "-V", "mqttv311", "-q", "1", "-t", "cli/lines", "-C", "100")
    data = "".join(f"line{i}\n" for i in range(100)).encode()
    r = subprocess.run(["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1",
                        "-t", "cli/lines", "-l"], input=data, capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr.decode()
    assert sub.lines() == [f"line{i}" for i in range(100)]
