"""TLS listeners: encryption, client certificates, CN as user name, certificate reload."""
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from mqtt_helpers import Client, wait_until

pytestmark = pytest.mark.musqratt_only


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(d, name):
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt",
             "-days", "2", "-subj", f"/CN={name}", cwd=d)


def _make_cert(d, ca, name, cn, server=False):
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={cn}", cwd=d)
    extra = []
    if server:
        (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        extra = ["-extfile", "ext"]
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.crt", "-days", "2", *extra, cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    _make_ca(d, "ca")
    _make_cert(d, "ca", "server", "localhost", server=True)
    _make_cert(d, "ca", "device", "device-42")
    _make_ca(d, "other-ca")
    _make_cert(d, "other-ca", "stranger", "stranger")
    return d


def _tls_port(b):
    import re
    import time
    # The broker is reported up once its first listener is; the TLS one is logged just after.
    deadline = time.monotonic() + 10
    while True:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+) \(mqtt, tls\)", b.log())
        if m or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert m, b.log()
    return int(m.group(1))


def _tls_broker(broker_factory, pki, *extra):
    b = broker_factory(extra_args=["--tls-listen", "127.0.0.1:0", "--tls-cert", str(pki / "server.crt"),
                                   "--tls-key", str(pki / "server.key"), *extra])
    b.tls_port = _tls_port(b)
    return b


def _paho(port, pki, cert=None, client_id=None, username=None, password=None):
    got = []
    c = mqtt.Client(client_id or f"tls-{time.monotonic_ns()}", protocol=mqtt.MQTTv311)
    kw = {"certfile": str(pki / f"{cert}.crt"), "keyfile": str(pki / f"{cert}.key")} if cert else {}
    c.tls_set(ca_certs=str(pki / "ca.crt"), **kw)
    if username:
        c.username_pw_set(username, password)
    rc = []
    connacked = threading.Event()
    c.on_connect = lambda cl, ud, flags, r: (rc.append(r), connacked.set())
    c.on_message = lambda cl, ud, m: got.append((m.topic, m.payload))
    c.subacks = set()  # message ids of the SUBSCRIBEs acknowledged
    c.on_subscribe = lambda cl, ud, mid, granted: c.subacks.add(mid)
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    # a CONNACK, or the end of paho's network thread (a TLS alert from the server ends it)
    loop = c._thread
    _wait(lambda: connacked.is_set() or not loop.is_alive(), timeout=5)
    return c, rc, got


def _subscribe(c, topic, qos):
    """Subscribes and waits for the SUBACK."""
    rc, mid = c.subscribe(topic, qos)
    assert rc == 0
    assert _wait(lambda: mid in c.subacks), f"no SUBACK for {topic}"


def _wait(pred, timeout=3):
    try:
        return wait_until(pred, timeout, interval=0.005)
    except AssertionError:
        return False


def test_publish_and_subscribe_over_tls(broker_factory, pki):
    b = _tls_broker(broker_factory, pki)
    sub, rc, got = _paho(b.tls_port, pki)
    assert rc == [0]
    _subscribe(sub, "secure/#", 1)
    big = os.urandom(200 * 1024)
    r = subprocess.run(["mosquitto_pub", "-p", str(b.tls_port), "--cafile", str(pki / "ca.crt"), "-t", "secure/a",
                        "-m", "hello", "-q", "1"], capture_output=True, timeout=10)
    assert r.returncode == 0, r.stderr
    plain = Client(b, version=4)  # the plain listener and the TLS one share topics
    plain.publish("secure/big", big, qos=1)
    assert _wait(lambda: len(got) >= 2), got
    assert ("secure/a", b"hello") in got
    assert ("secure/big", big) in got
    sub.disconnect()  # wakes the network thread, which then ends at once
    sub.loop_stop()


def test_required_client_certificate(broker_factory, pki):
    b = _tls_broker(broker_factory, pki, "--tls-ca", str(pki / "ca.crt"), "--tls-require-certificate", "true")
    ok, rc, _ = _paho(b.tls_port, pki, cert="device")
    assert rc == [0]
    ok.disconnect()  # wakes the network thread, which then ends at once
    ok.loop_stop()
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        c = mqtt.Client("no-cert")
        c.tls_set(ca_certs=str(pki / "ca.crt"))
        c.connect("127.0.0.1", b.tls_port, 30)
        c.loop_forever(timeout=2, retry_first_connection=False)  # the server's alert surfaces here
        raise ConnectionError("closed")
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _c, rc, _ = _paho(b.tls_port, pki, cert="stranger")
        if rc != [0]:
            raise ConnectionError("refused")
        raise AssertionError("a certificate from another CA was accepted")


def test_certificate_cn_is_the_user_name(broker_factory, pki, tmp_path):
    acl = tmp_path / "acl"
    acl.write_text("pattern readwrite devices/%u/#\n")
    pw = tmp_path / "pw"
    pw.write_text("")
    b = _tls_broker(broker_factory, pki, "--tls-ca", str(pki / "ca.crt"), "--tls-use-identity-as-username", "true",
                    "--password-file", str(pw), "--acl-file", str(acl))
    dev, rc, got = _paho(b.tls_port, pki, cert="device")
    assert rc == [0]
    assert "(user 'device-42')" in b.log()
    _subscribe(dev, "devices/device-42/#", 1)
    _subscribe(dev, "devices/other/#", 1)
    dev.publish("devices/device-42/t", b"mine", 1)
    dev.publish("devices/other/t", b"not mine", 1)
    dev.publish("devices/device-42/t", b"marker", 1)  # after "not mine", had it been delivered
    assert _wait(lambda: ("devices/device-42/t", b"marker") in got), got
    assert got == [("devices/device-42/t", b"mine"), ("devices/device-42/t", b"marker")]
    dev.disconnect()  # wakes the network thread, which then ends at once
    dev.loop_stop()
    # Without a certificate, the password file applies: no anonymous access.
    anon, rc, _ = _paho(b.tls_port, pki)
    assert rc == [5]
    anon.disconnect()
    anon.loop_stop()


def test_certificates_reload_on_sighup_without_dropping_connections(broker_factory, pki, tmp_path):
    import shutil
    for f in ("server.crt", "server.key"):
        shutil.copy(pki / f, tmp_path / f)
    b = broker_factory(extra_args=["--tls-listen", "127.0.0.1:0", "--tls-cert", str(tmp_path / "server.crt"),
                                   "--tls-key", str(tmp_path / "server.key")])
    port = _tls_port(b)
    keep, rc, got = _paho(port, pki)
    assert rc == [0]
    _subscribe(keep, "r/#", 1)
    # A new server certificate from another CA, swapped in on disk, then SIGHUP.
    _make_cert(pki, "other-ca", "server2", "localhost", server=True)
    shutil.copy(pki / "server2.crt", tmp_path / "server.crt")
    shutil.copy(pki / "server2.key", tmp_path / "server.key")
    os.kill(b.pid, signal.SIGHUP)
    ctx = ssl.create_default_context(cafile=str(pki / "other-ca.crt"))

    def new_certificate_served():
        # until the reload is done, the old certificate fails verification against other-ca
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    return s.getpeercert()
        except ssl.SSLCertVerificationError:
            return None
    cert = wait_until(new_certificate_served, timeout=5, what="the new certificate served", interval=0.02)
    assert cert["subject"][0][0][1] == "localhost"
    keep.publish("r/x", b"still connected", 1)
    assert _wait(lambda: got), "the connection made before the reload stopped working"
    keep.disconnect()  # wakes the network thread, which then ends at once
    keep.loop_stop()


def test_garbage_on_the_tls_port_closes_only_that_connection(broker_factory, pki):
    b = _tls_broker(broker_factory, pki)
    with socket.create_connection(("127.0.0.1", b.tls_port), timeout=3) as s:
        s.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00" + os.urandom(2000))
        s.settimeout(3)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
    assert "closing TLS connection" in b.log()
    c, rc, _ = _paho(b.tls_port, pki)
    assert rc == [0]
    c.disconnect()
    c.loop_stop()
