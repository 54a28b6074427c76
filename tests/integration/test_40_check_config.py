"""musqratt --check-config: every error with FILE:LINE and key, exit status 1; 0 when all is well."""
import subprocess

import pytest

from conftest import MUSQRATT_BIN
from configured_broker import CLI

pytestmark = pytest.mark.musqratt_only


def _check(*args):
    return subprocess.run([MUSQRATT_BIN, "--check-config", *args], capture_output=True, text=True, timeout=20)


def test_a_good_file_passes(tmp_path):
    pw = tmp_path / "passwords"
    subprocess.run([CLI, "passwd", str(pw), "alice", "-p", "x"], check=True, capture_output=True)
    acl = tmp_path / "acl"
    acl.write_text("user alice\ntopic readwrite a/#\ntopic deny a/secret\n")
    f = tmp_path / "ok.toml"
    f.write_text(f'listen = ["127.0.0.1:1883"]\npassword_file = "{pw}"\nacl_file = "{acl}"\n'
                 f'log_dest = "file"\nlog_file = "{tmp_path / "broker.log"}"\nlog_format = "json"\n')
    r = _check("--config", str(f))
    assert r.returncode == 0, r.stderr
    assert f"{f}: configuration OK" in r.stdout
    assert not (tmp_path / "broker.log").exists(), "checking opens nothing for writing"


def test_every_error_is_reported_with_file_line_and_key(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('# a comment\n'
                 'max_inflight = -3\n'
                 'nonsense = 1\n'
                 'log_dest = "journal"\n'
                 'persistence_sync = "sometimes"\n'
                 'listen = ["127.0.0.1:notaport"]\n'
                 'password_file = "/nonexistent/passwords"\n')
    r = _check("--config", str(f))
    assert r.returncode == 1
    err = r.stderr
    for expected in [f"{f}:2: max_inflight: expected an integer",
                     f"{f}:3: unknown key 'nonsense'",
                     f"{f}:4: log_dest: 'journal' is not one of stderr, syslog, file",
                     f"{f}:5: persistence_sync: 'sometimes' is not one of always, batch",
                     f"{f}:6: listen:",
                     f"{f}:7: password_file: /nonexistent/passwords"]:
        assert expected in err, f"{expected!r} not in:\n{err}"
    assert "6 error(s)" in err


def test_a_syntax_error_names_its_line(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text('log_level = "info"\nmax_inflight = \n')
    r = _check("--config", str(f))
    assert r.returncode == 1
    assert f"{f}:2:" in r.stderr and "line 2" in r.stderr


def test_errors_inside_named_files_carry_their_own_line(tmp_path):
    acl = tmp_path / "acl"
    acl.write_text("user bob\ntopic read ok/#\ntopic sometimes x\n")
    pw = tmp_path / "pw"
    pw.write_text("alice:plaintext-password\n")
    f = tmp_path / "c.toml"
    f.write_text(f'password_file = "{pw}"\nacl_file = "{acl}"\n')
    r = _check("--config", str(f))
    assert r.returncode == 1
    assert f"{f}:2: acl_file: {acl}:3: access must be read, write, readwrite or deny" in r.stderr
    assert f"{f}:1: password_file: {pw}: user 'alice'" in r.stderr
    assert "plaintext-password" not in r.stderr


def test_rules_across_keys(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('listen = []\ntls_listen = ["127.0.0.1:8883"]\nlog_dest = "file"\ntls_require_certificate = true\n')
    r = _check("--config", str(f))
    assert r.returncode == 1
    assert f"{f}:2: tls_listen: TLS listeners need tls_cert" in r.stderr
    assert f"{f}:2: tls_listen: TLS listeners need tls_key" in r.stderr
    assert f'{f}:3: log_dest: log_dest = "file" needs log_file' in r.stderr
    assert f"{f}:4: tls_require_certificate: needs tls_ca" in r.stderr
    g = tmp_path / "nolistener.toml"
    g.write_text("listen = []\n")
    r = _check("--config", str(g))
    assert r.returncode == 1 and "no listener configured" in r.stderr


def test_an_open_listener_without_passwords_is_named(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('listen = ["0.0.0.0:1883"]\n')
    r = _check("--config", str(f))
    assert r.returncode == 1
    assert "allow_anonymous: a listener is not on loopback" in r.stderr


def test_flags_are_checked_too(tmp_path):
    r = _check("--max-inflight", "x", "--no-such-flag", "1")
    assert r.returncode == 1
    assert "--max-inflight: expected an integer" in r.stderr
    assert "unknown option '--no-such-flag'" in r.stderr


def test_the_broker_refuses_to_start_on_what_check_config_refuses(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('log_format = "xml"\n')
    r = subprocess.run([MUSQRATT_BIN, "--config", str(f)], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert f"{f}:1: log_format: 'xml' is not one of text, json" in r.stderr
