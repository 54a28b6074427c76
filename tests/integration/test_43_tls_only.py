"""A broker with TLS listeners only (listen = []): the normal production setup."""
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest

from conftest import MUSQRATT_BIN
from configured_broker import configured_broker  # noqa: F401  (fixture)

pytestmark = pytest.mark.musqratt_only


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def server_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=test-ca", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=localhost", cwd=d)
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.crt", "-days", "2", "-extfile", "ext", cwd=d)
    return d


def _settings(pki):
    return {"listen": [], "tls_listen": ["127.0.0.1:0"], "tls_cert": str(pki / "server.crt"),
            "tls_key": str(pki / "server.key")}


def test_tls_only_broker_starts_and_serves(configured_broker, server_cert):
    b = configured_broker(_settings(server_cert))
    assert b.port is None and b.tls_port
    assert "(mqtt, tcp)" not in b.log()
    got, connected = [], []
    c = mqtt.Client("tls-only", protocol=mqtt.MQTTv311)
    c.tls_set(ca_certs=str(server_cert / "ca.crt"))
    c.on_connect = lambda cl, ud, fl, rc: (connected.append(rc), cl.subscribe("t/#", 1))
    c.on_subscribe = lambda cl, ud, mid, granted: cl.publish("t/1", b"over tls", 1)
    c.on_message = lambda cl, ud, m: got.append(m.payload)
    c.connect("127.0.0.1", b.tls_port, 30)
    c.loop_start()
    try:
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert connected == [0] and got == [b"over tls"]
    finally:
        c.loop_stop()
        c.disconnect()


def test_tls_only_configuration_checks_clean(tmp_path, server_cert):
    f = tmp_path / "tls.toml"
    f.write_text(f'listen = []\ntls_listen = ["127.0.0.1:8883"]\ntls_cert = "{server_cert / "server.crt"}"\n'
                 f'tls_key = "{server_cert / "server.key"}"\n')
    r = subprocess.run([MUSQRATT_BIN, "--check-config", "--config", str(f)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    # The key of another certificate: caught by the check, before any start.
    f.write_text(f'listen = []\ntls_listen = ["127.0.0.1:8883"]\ntls_cert = "{server_cert / "server.crt"}"\n'
                 f'tls_key = "{server_cert / "ca.key"}"\n')
    r = subprocess.run([MUSQRATT_BIN, "--check-config", "--config", str(f)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert f"{f}:3: tls_cert:" in r.stderr, r.stderr
