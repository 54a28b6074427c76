"""TLS to the upstream with a test CA: the server's certificate is verified against tls_ca and
its name against the host connected to (SNI sent), a client certificate where the upstream
asks for one; a wrong CA or a wrong name is refused and reported, and never stops the edge."""
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from flow import Subscriber, count_flow, publish_numbered
from peers import bridge_table, free_port


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_ca(d, name):
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt",
             "-days", "2", "-subj", f"/CN={name}", cwd=d)


def _make_cert(d, ca, name, cn, san=None):
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={cn}", cwd=d)
    extra = []
    if san:
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        extra = ["-extfile", f"{name}.ext"]
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.crt", "-days", "2", *extra, cwd=d)


@pytest.fixture(scope="module")
def pki():
    # Readable by all: Mosquitto started as root reads its certificates as user mosquitto.
    d = Path(tempfile.mkdtemp(prefix="musqratt-bridge-pki-"))
    _make_ca(d, "ca")
    _make_cert(d, "ca", "server", "localhost", san="DNS:localhost,DNS:mqtt.example.test,IP:127.0.0.1")
    _make_cert(d, "ca", "edge", "edge-gateway-1")
    _make_ca(d, "other-ca")
    os.chmod(d, 0o755)
    for f in d.iterdir():
        os.chmod(f, 0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


RULES = [{"filter": "telemetry/#", "direction": "out", "qos": 1, "remote_prefix": "site7/"},
         {"filter": "cmd/#", "direction": "in", "qos": 1, "local_prefix": "cloud/"}]


def tls_upstream(lab, kind, pki):
    """(upstream, TLS port); the upstream asks for a client certificate from our CA."""
    tls_port = free_port()
    if kind == "mosquitto":
        up = lab.mosquitto("upstream", extra=[
            f"listener {tls_port} 127.0.0.1", f"cafile {pki}/ca.crt", f"certfile {pki}/server.crt",
            f"keyfile {pki}/server.key", "require_certificate true"])
    else:
        up = lab.musqratt("upstream", args=[
            "--tls-listen", f"127.0.0.1:{tls_port}", "--tls-cert", str(pki / "server.crt"),
            "--tls-key", str(pki / "server.key"), "--tls-ca", str(pki / "ca.crt"),
            "--tls-require-certificate", "true"])
    up.start()
    return up, tls_port


@pytest.mark.parametrize("protocol", ["mqttv311", "mqttv5"])
@pytest.mark.parametrize("upstream_kind", ["mosquitto", "musqratt"])
def test_tls_link_with_verified_name_and_client_certificate(lab, pki, upstream_kind, protocol):
    up, tls_port = tls_upstream(lab, upstream_kind, pki)
    edge = lab.musqratt("edge", bridge_table(
        "cloud", f"localhost:{tls_port}", RULES, protocol=protocol, tls_ca=str(pki / "ca.crt"),
        tls_cert=str(pki / "edge.crt"), tls_key=str(pki / "edge.key")), persistence=True).start()
    edge.wait_log(r"bridge 'cloud': connected to localhost:")
    sub = Subscriber("127.0.0.1", up.port, "site7/#", qos=1)
    edge_sub = Subscriber("127.0.0.1", edge.port, "cloud/#", qos=1)
    assert publish_numbered("127.0.0.1", edge.port, "telemetry/power", 500, qos=1) == 500
    assert sub.wait_count(500, 15)
    deadline = time.monotonic() + 10
    while not edge_sub.messages:
        assert time.monotonic() < deadline, "nothing came down the TLS link"
        publish_numbered("127.0.0.1", up.port, "cmd/reboot", 1, qos=1)
        edge_sub.wait_count(1, 0.5)
    sub.wait_quiet(0.5)
    assert count_flow(sub.payloads(), 500) == {"received": 500, "lost": 0, "duplicated": 0, "reordered": 0}
    assert edge_sub.messages[0][0] == "cloud/cmd/reboot"
    sub.close()
    edge_sub.close()


def test_a_certificate_from_another_ca_is_refused_and_reported(lab, pki):
    up, tls_port = tls_upstream(lab, "musqratt", pki)
    edge = lab.musqratt("edge", bridge_table(
        "cloud", f"localhost:{tls_port}", RULES, tls_ca=str(pki / "other-ca.crt"),
        tls_cert=str(pki / "edge.crt"), tls_key=str(pki / "edge.key"))).start()
    line = edge.wait_log(r"bridge 'cloud': cannot connect to localhost:\d+: (TLS: .*)")
    assert "certificate verify failed" in line, line
    # The edge itself carries on serving its clients.
    local = Subscriber("127.0.0.1", edge.port, "local/#", qos=1)
    assert publish_numbered("127.0.0.1", edge.port, "local/x", 5, qos=1) == 5
    assert local.wait_count(5, 5)
    local.close()


def test_a_certificate_for_another_name_is_refused_unless_the_check_is_off(lab, pki):
    up, tls_port = tls_upstream(lab, "musqratt", pki)
    common = dict(tls_ca=str(pki / "ca.crt"), tls_cert=str(pki / "edge.crt"), tls_key=str(pki / "edge.key"))
    wrong = lab.musqratt("edge-wrong-name", bridge_table(
        "cloud", tls_port, RULES, tls_server_name="broker.elsewhere.test", **common)).start()
    line = wrong.wait_log(r"bridge 'cloud': cannot connect to 127\.0\.0\.1:\d+: (TLS: .*)")
    assert "mismatch" in line.lower(), line
    # The name the certificate does carry (checked, and sent as SNI) is accepted.
    named = lab.musqratt("edge-named", bridge_table(
        "cloud", tls_port, RULES, tls_server_name="mqtt.example.test", **common)).start()
    named.wait_log(r"bridge 'cloud': connected to")
    unchecked = lab.musqratt("edge-unchecked", bridge_table(
        "cloud", tls_port, RULES, tls_server_name="broker.elsewhere.test", tls_verify_hostname=False,
        **common)).start()
    unchecked.wait_log(r"bridge 'cloud': connected to")
