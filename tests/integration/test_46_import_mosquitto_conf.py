"""musqratt-cli import-mosquitto-conf: Debian's own mosquitto.conf files and realistic ones become
a musqratt.toml that --check-config accepts and that behaves as Mosquitto does with the
original; every directive is either carried over or listed with the reason."""
import re
import shutil
import socket
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

from conftest import MOSQUITTO_BIN, MUSQRATT_BIN, free_port
from configured_broker import CLI, ConfiguredBroker
from mqtt_helpers import Client

pytestmark = pytest.mark.musqratt_only

DEBIAN_CONF = Path("/etc/mosquitto/mosquitto.conf")
DEBIAN_EXAMPLE = Path("/usr/share/doc/mosquitto/examples/mosquitto.conf")


def _import(conf, out=None):
    args = [CLI, "import-mosquitto-conf", str(conf)] + (["-o", str(out)] if out else [])
    r = subprocess.run(args, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return (Path(out).read_text() if out else r.stdout), r.stderr


def _check(toml_path):
    return subprocess.run([MUSQRATT_BIN, "--check-config", "--config", str(toml_path)], capture_output=True,
                          text=True, timeout=10)


def _directive_lines(conf):
    return [i for i, line in enumerate(Path(conf).read_text().splitlines(), 1) if line.strip() and not line.startswith("#")]


def _accounted_for(text, conf):
    """Every directive line of `conf` is named in the output (carried: '# from', or listed)."""
    missing = [n for n in _directive_lines(conf) if f"{conf}:{n}:" not in text]
    return missing


@pytest.mark.skipif(not DEBIAN_CONF.exists(), reason="Debian's mosquitto package is not installed")
def test_debians_default_mosquitto_conf(tmp_path):
    confd = tmp_path / "conf.d"
    confd.mkdir()
    (confd / "10-listener.conf").write_text("listener 1883 127.0.0.1\nallow_anonymous true\n")
    (confd / "README").write_text("not a .conf file: not read\n")
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(DEBIAN_CONF.read_text().replace("/etc/mosquitto/conf.d", str(confd)))
    out = tmp_path / "musqratt.toml"
    text, summary = _import(conf, out)
    data = tomllib.loads(text)
    assert data["persistence"] is True and data["persistence_dir"] == "/var/lib/mosquitto/"
    assert data["log_dest"] == "file" and data["log_file"] == "/var/log/mosquitto/mosquitto.log"
    assert data["listen"] == ["127.0.0.1:1883"], "from the included file"
    assert data["allow_anonymous"] == "true"
    assert "pid_file /run/mosquitto/mosquitto.pid\n#   MusQraTT writes no pid file" in text
    assert _accounted_for(text, conf) == [] and _accounted_for(text, confd / "10-listener.conf") == []
    # Checked as it would run from the package (its own directories).
    text = text.replace("/var/lib/mosquitto/", str(tmp_path / "data")).replace(
        "/var/log/mosquitto/mosquitto.log", str(tmp_path / "musqratt.log"))
    out.write_text(text)
    r = _check(out)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not DEBIAN_EXAMPLE.exists(), reason="Debian's mosquitto package is not installed")
def test_every_directive_of_debians_example_is_carried_or_explained(tmp_path):
    # The example file shows every directive commented out, with its default: all of them on.
    conf = tmp_path / "all.conf"
    lines = re.findall(r"^#([a-z_0-9.]+(?: .*)?)$", DEBIAN_EXAMPLE.read_text(), re.M)
    assert len(lines) > 80
    conf.write_text("\n".join(lines) + "\n")
    text, summary = _import(conf)
    assert _accounted_for(text, conf) == []
    m = re.search(r"(\d+) directive\(s\) carried over, (\d+) not", summary)
    assert int(m.group(1)) + int(m.group(2)) == len(lines)
    # Those taking a value were carried with Mosquitto's defaults.
    data = tomllib.loads(text)
    assert data["max_inflight"] == 20 and data["max_queued_messages"] == 1000 and data["log_level"] == "info"
    assert data["bridge"][0]["name"] == "_name_"  # "<name>": characters a bridge name cannot have


def _write_pki(d):
    def openssl(*a):
        subprocess.run(["openssl", *a], cwd=d, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj",
            "/CN=localhost")
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "server.crt", "-days", "2", "-extfile", "ext")


def _site(tmp_path, plain, tls):
    """A realistic site: a loopback listener, a TLS listener, users from mosquitto_passwd, an ACL."""
    pki = tmp_path / "pki"
    pki.mkdir()
    _write_pki(pki)
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pw), "sensor", "s3nsor"], check=True, capture_output=True)
    subprocess.run(["mosquitto_passwd", "-b", str(pw), "dashboard", "d4sh"], check=True, capture_output=True)
    acl = tmp_path / "acl"
    acl.write_text("user sensor\ntopic write plant/#\ntopic deny plant/admin/#\n"
                   "user dashboard\ntopic read plant/#\ntopic deny plant/secret/#\n"
                   "pattern readwrite clients/%c/#\n")
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"""# plant broker
user root
per_listener_settings false
allow_anonymous false
password_file {pw}
acl_file {acl}
persistence false
max_queued_messages 200
max_inflight_messages 10
max_keepalive 120
sys_interval 5
persistent_client_expiration 2d
log_type error
log_type warning
log_type information
log_dest stderr
connection_messages true

listener {plain} 127.0.0.1

listener {tls} 127.0.0.1
certfile {pki / 'server.crt'}
keyfile {pki / 'server.key'}
require_certificate false
""")
    return conf, pki


def _behaviour(host, port, pki=None, tls_port=None):
    """What a site's clients see: who gets in, who may publish and read what."""
    class B:
        pass
    b = B()
    b.host, b.port = host, port
    seen = {}

    def client(user, password, client_id=None, expect_rc=0):
        c = Client(b, client_id=client_id, version=4, connect=False)
        if user:
            c.c.username_pw_set(user, password)
        try:
            c.connect(expect_rc=None)
        except AssertionError:
            return None, "no CONNACK"
        return c, c.connack[0]

    seen["anonymous"] = client(None, None)[1]
    seen["bad password"] = client("sensor", "nope")[1]
    dash, seen["dashboard"] = client("dashboard", "d4sh", client_id="dash-1")
    sensor, seen["sensor"] = client("sensor", "s3nsor", client_id="sensor-1")
    dash.subscribe("plant/#", 1)
    dash.subscribe("clients/dash-1/#", 1)
    sensor.publish("plant/line1/temp", b"21.5", qos=1)
    sensor.publish("plant/secret/recipe", b"x", qos=1)   # sensor may write; dashboard may not read it
    sensor.publish("plant/admin/reset", b"x", qos=1)     # denied to the sensor
    sensor.publish("clients/dash-1/note", b"x", qos=1)   # another client's pattern topic
    dash.publish("clients/dash-1/self", b"mine", qos=1)
    time.sleep(0.5)
    seen["dashboard got"] = sorted(m.topic for m in dash.messages)
    dash.disconnect()
    sensor.disconnect()
    if tls_port:
        import ssl
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                seen["tls"] = t.version() is not None
    return seen


@pytest.mark.skipif(not Path(MOSQUITTO_BIN).exists(), reason="needs Debian's mosquitto")
def test_a_site_behaves_the_same_under_mosquitto_and_the_import(tmp_path):
    plain, tls = free_port(), free_port()
    conf, pki = _site(tmp_path, plain, tls)
    # Mosquitto with its own file.
    mosq = subprocess.Popen([MOSQUITTO_BIN, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", plain), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and mosq.poll() is None, mosq.stderr.read()
                time.sleep(0.05)
        expected = _behaviour("127.0.0.1", plain, pki, tls)
    finally:
        mosq.terminate()
        mosq.wait(5)
    # MusQraTT with the imported file.
    out = tmp_path / "musqratt.toml"
    text, _ = _import(conf, out)
    data = tomllib.loads(text)
    assert data["listen"] == [f"127.0.0.1:{plain}"] and data["tls_listen"] == [f"127.0.0.1:{tls}"]
    assert data["max_queued_messages"] == 200 and data["max_inflight"] == 10 and data["max_keepalive"] == 120
    assert data["session_expiry_default"] == 2 * 86400 and data["sys_interval"] == 5
    assert data["log_level"] == "info" and data["allow_anonymous"] == "false"
    assert "user root\n#   the service runs as the user of its systemd unit" in text
    assert _check(out).returncode == 0
    b = ConfiguredBroker(tmp_path, text)
    try:
        b.wait_listening()
        got = _behaviour("127.0.0.1", plain, pki, tls)
    finally:
        assert b.stop() == 0
    # One known difference: for a wrong password Mosquitto 2.0.11 answers MQTT 3.1.1 CONNACK 5
    # (not authorized), MusQraTT 4 (bad user name or password), as section 3.2.2.3 lists them.
    assert expected.pop("bad password") == 5 and got.pop("bad password") == 4
    assert got == expected
    assert expected["anonymous"] == 5 and expected["dashboard got"] == ["clients/dash-1/self", "plant/line1/temp"]


def test_per_listener_settings_websockets_and_unix_sockets_are_explained(tmp_path):
    conf = tmp_path / "m.conf"
    conf.write_text("per_listener_settings true\n"
                    "listener 1883\n"
                    "password_file /etc/mosquitto/a\n"
                    "allow_anonymous true\n"
                    "listener 1884 10.0.0.1\n"
                    "password_file /etc/mosquitto/b\n"
                    "allow_anonymous false\n"
                    "listener 9001\n"
                    "protocol websockets\n"
                    "listener 0 /run/mosquitto.sock\n"
                    "socket_domain ipv4\n"
                    "max_connections 100\n")
    text, _ = _import(conf)
    data = tomllib.loads(text)
    assert data["listen"] == ["0.0.0.0:1883", "[::]:1883", "10.0.0.1:1884"]
    assert data["password_file"] == "/etc/mosquitto/a" and data["allow_anonymous"] == "false"
    assert "the listeners' password files, ACLs or anonymous policies differ" in text
    assert f"{conf}:8: listener 9001\n#   MQTT over WebSockets is not served" in text
    assert f"{conf}:10: listener 0 /run/mosquitto.sock\n#   MusQraTT does not listen on Unix sockets" in text
    assert _accounted_for(text, conf) == []


def test_bridges_become_bridge_tables(tmp_path):
    conf = tmp_path / "m.conf"
    conf.write_text("listener 1883 127.0.0.1\n"
                    "connection cloud\n"
                    "address cloud.example.com:8883 backup.example.com\n"
                    "bridge_protocol_version mqttv50\n"
                    "remote_clientid site-7\n"
                    "remote_username site7\n"
                    "remote_password s3cret\n"
                    "cleansession false\n"
                    "bridge_cafile /etc/ssl/cloud-ca.pem\n"
                    "restart_timeout 2 60\n"
                    "topic sensors/# out 1 site/ edge/site7/\n"
                    "topic commands/# in 1 \"\" cmd/site7/\n"
                    "try_private true\n"
                    "connection second\n"
                    "address 10.1.1.1\n"
                    "topic # both\n")
    out = tmp_path / "musqratt.toml"
    text, _ = _import(conf, out)
    assert oct(out.stat().st_mode & 0o777) == "0o600", "it holds a password"
    data = tomllib.loads(text)
    cloud, second = data["bridge"]
    assert cloud["name"] == "cloud"
    assert cloud["address"] == ["cloud.example.com:8883", "backup.example.com:1883"]
    assert cloud["protocol"] == "mqttv5" and cloud["client_id"] == "site-7"
    assert cloud["username"] == "site7" and cloud["password"] == "s3cret" and cloud["clean_start"] is False
    assert cloud["tls_ca"] == "/etc/ssl/cloud-ca.pem"
    assert cloud["reconnect_min_ms"] == 2000 and cloud["reconnect_max_ms"] == 60000
    assert cloud["topics"] == [
        {"filter": "sensors/#", "direction": "out", "qos": 1, "local_prefix": "site/", "remote_prefix": "edge/site7/"},
        {"filter": "commands/#", "direction": "in", "qos": 1, "local_prefix": "", "remote_prefix": "cmd/site7/"}]
    assert second["topics"] == [{"filter": "#", "direction": "both", "qos": 0, "local_prefix": "", "remote_prefix": ""}]
    assert cloud["try_private"] is True
    assert "[[bridge]] tables as docs/bridge.md describes them" in text
    assert _accounted_for(text, conf) == []


def test_a_mosquitto_bridge_imports_into_a_configuration_musqratt_accepts(tmp_path):
    pki = tmp_path / "pki"
    pki.mkdir()
    _write_pki(pki)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"""listener 1883 127.0.0.1
connection site7/cloud
address 127.0.0.1:8883 127.0.0.2:8883
bridge_protocol_version mqttv311
remote_clientid site-7
remote_username site7
remote_password s3cret
cleansession true
keepalive_interval 30
bridge_cafile {pki / 'ca.crt'}
bridge_certfile {pki / 'server.crt'}
bridge_keyfile {pki / 'server.key'}
bridge_insecure true
try_private false
topic sensors/# out 1 site/ edge/site7/
topic commands/# in 2 "" cmd/site7/
topic status both 0
bridge_capath /etc/ssl/certs
local_clientid bridge-local
notifications true
""")
    out = tmp_path / "musqratt.toml"
    text, _ = _import(conf, out)
    (b,) = tomllib.loads(text)["bridge"]
    assert b["name"] == "site7_cloud" and "'site7/cloud' has characters a bridge name cannot have" in text
    assert b["address"] == ["127.0.0.1:8883", "127.0.0.2:8883"] and b["protocol"] == "mqttv311"
    assert (b["client_id"], b["username"], b["password"]) == ("site-7", "site7", "s3cret")
    assert b["clean_start"] is True and b["keepalive"] == 30 and b["try_private"] is False
    assert (b["tls_ca"], b["tls_cert"], b["tls_key"]) == (str(pki / "ca.crt"), str(pki / "server.crt"),
                                                          str(pki / "server.key"))
    assert b["tls_verify_hostname"] is False
    assert [(t["filter"], t["direction"], t["qos"]) for t in b["topics"]] == [
        ("sensors/#", "out", 1), ("commands/#", "in", 2), ("status", "both", 0)]
    # What cannot be carried is named with its line and why.
    assert f"{conf}:18: bridge_capath /etc/ssl/certs\n#   bridge 'site7_cloud': one CA file" in text
    assert f"{conf}:19: local_clientid bridge-local\n#   bridge 'site7_cloud': MusQraTT's bridge is inside" in text
    assert f"{conf}:20: notifications true\n#   bridge 'site7_cloud': the bridge's state is published" in text
    assert _accounted_for(text, conf) == []
    # The broker takes the result as it is (the TLS files are checked to exist).
    r = _check(out)
    assert r.returncode == 0, r.stderr + text
    # And refuses it, naming the table and the key, once a file it names is gone.
    (pki / "server.key").unlink()
    r = _check(out)
    assert r.returncode != 0 and "[[bridge]] 'site7_cloud'" in r.stderr and "tls_key" in r.stderr, r.stderr


def test_unreadable_input_fails_cleanly(tmp_path):
    r = subprocess.run([CLI, "import-mosquitto-conf", str(tmp_path / "missing.conf")], capture_output=True, text=True)
    assert r.returncode == 1 and "cannot read" in r.stderr
