"""[[bridge]] tables: a bad one refuses to start with a message naming the file and line, the
table and the key; a good one prints back (--print-config) into a file that reads the same;
a bridge removed from the configuration leaves no buffer behind."""
import re
import subprocess

import pytest

from flow import publish_numbered
from peers import MUSQRATT_BIN, bridge_table

GOOD = """
[[bridge]]
name = "cloud"
address = ["primary.example.test:8883", "127.0.0.1:1883"]
protocol = "mqttv5"
client_id = "site-7"
username = "edge"
password = "secret"
keepalive = 30
session_expiry = 3600
max_inflight = 50
buffer_max_messages = 200000
buffer_max_bytes = 1000000000
buffer_full = "drop_newest"
forward_qos0 = true
topics = [
  { filter = "sensors/#", direction = "out", qos = 1, remote_prefix = "site7/" },
  { filter = "cmd/#", direction = "in", qos = 2, local_prefix = "remote/" },
  "status/# both 0",
  { filter = "", direction = "out", local_prefix = "local/alarm", remote_prefix = "alarms/site7" },
]
"""


def run(*args):
    return subprocess.run([MUSQRATT_BIN, *args], capture_output=True, text=True, timeout=10)


def test_a_good_table_prints_back_and_reads_the_same(tmp_path):
    f = tmp_path / "good.toml"
    f.write_text(GOOD)
    out = run("--config", str(f), "--print-config")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "[[bridge]]" in text and 'name = "cloud"' in text
    assert 'address = ["primary.example.test:8883", "127.0.0.1:1883"]' in text
    assert '{ filter = "status/#", direction = "both", qos = 0 }' in text
    assert 'buffer_full = "drop_newest"' in text
    again = tmp_path / "again.toml"
    again.write_text(text)
    assert run("--config", str(again), "--print-config").stdout == text


def test_without_bridges_the_printed_file_describes_the_keys():
    text = run("--print-config").stdout
    assert "# [[bridge]]" in text
    for key in ("address", "topics", "buffer_max_messages", "buffer_full", "tls_verify_hostname", "try_private"):
        assert re.search(rf"^#   {key} = ", text, re.M), key


@pytest.mark.parametrize("table,expected", [
    ('name = "b"\ntopics = ["a/#"]\n', r"\[\[bridge\]\] 'b': key 'address': missing"),
    ('name = "b"\naddress = "h:1"\n', r"\[\[bridge\]\] 'b': key 'topics': missing"),
    ('address = "h:1"\ntopics = ["a/#"]\n', r"\[\[bridge\]\] table 1: key 'name': missing"),
    ('name = "b"\naddress = "h:1"\ntopics = ["a/#"]\ncolour = "red"\n', r":6: \[\[bridge\]\] 'b': key 'colour': unknown key"),
    ('name = "b"\naddress = "h"\ntopics = ["a/#"]\n', r"key 'address': 'h' is not HOST:PORT"),
    ('name = "b"\naddress = "h:1"\nprotocol = "mqttv3"\ntopics = ["a/#"]\n', r"key 'protocol': must be \"mqttv311\" or \"mqttv5\""),
    ('name = "b"\naddress = "h:1"\ntopics = [{ filter = "a/#", remote_prefix = "x/+/" }]\n',
     r"topics\[0\]: remote_prefix 'x/\+/' contains a wildcard"),
    ('name = "b"\naddress = "h:1"\ntopics = [{ filter = "a/#", local_prefix = "#/" }]\n',
     r"topics\[0\]: local_prefix '#/' contains a wildcard"),
    ('name = "b"\naddress = "h:1"\ntopics = [{ filter = "a/#/b" }]\n', r"filter 'a/#/b' is not a valid topic filter"),
    ('name = "b"\naddress = "h:1"\ntopics = [{ filter = "a/#", direction = "sideways" }]\n',
     r"topics\[0\]: key 'direction': must be \"out\", \"in\" or \"both\""),
    ('name = "b"\naddress = "h:1"\ntopics = [{ filter = "a/#", qos = 3 }]\n', r"topics\[0\]: key 'qos': expected an integer from 0 to 2"),
    ('name = "b"\naddress = "h:1"\ntopics = ["a/#"]\ntls_ca = "/nonexistent/ca.pem"\n',
     r"key 'tls_ca': file '/nonexistent/ca.pem' does not exist"),
    ('name = "b"\naddress = "h:1"\ntopics = ["a/#"]\ntls_cert = "/etc/hostname"\n', r":6: \[\[bridge\]\] 'b': key 'tls_key': missing: tls_cert needs its private key"),
    ('name = "b"\naddress = "h:1"\ntopics = ["a/#"]\nbuffer_full = "drop_random"\n', r"key 'buffer_full': must be"),
    ('name = "b"\naddress = "h:1"\ntopics = ["a/#"]\nkeepalive = 70000\n', r"key 'keepalive': expected an integer from 0 to 65535"),
    ('name = "b"\naddress = "h:1"\ntopics = ["a/#"]\nreconnect_min_ms = 5000\nreconnect_max_ms = 1000\n',
     r"key 'reconnect_min_ms': 5000 is more than reconnect_max_ms"),
    ('name = "b"\naddress = "h:1"\ntopics = ["a/#"]\npassword = "p"\n', r"key 'password': needs username under mqttv311"),
    ('name = "b c"\naddress = "h:1"\ntopics = ["a/#"]\n', r"key 'name': 'b c' must be"),
])
def test_a_bad_table_refuses_to_start_naming_the_table_and_the_key(tmp_path, table, expected):
    f = tmp_path / "bad.toml"
    f.write_text("sys_interval = 10\n[[bridge]]\n" + table)
    r = run("--config", str(f))
    assert r.returncode == 2, r.stderr
    assert str(f) in r.stderr, r.stderr
    assert re.search(expected, r.stderr), r.stderr


def test_two_tables_with_one_name_are_refused(tmp_path):
    f = tmp_path / "dup.toml"
    f.write_text('[[bridge]]\nname = "b"\naddress = "h:1"\ntopics = ["a/#"]\n'
                 '[[bridge]]\nname = "b"\naddress = "h:2"\ntopics = ["c/#"]\n')
    r = run("--config", str(f))
    assert r.returncode == 2 and "another [[bridge]] has the name 'b'" in r.stderr, r.stderr


def test_bridge_must_be_an_array_of_tables(tmp_path):
    f = tmp_path / "single.toml"
    f.write_text('[bridge]\nname = "b"\n')
    r = run("--config", str(f))
    assert r.returncode == 2 and "'bridge' must be an array of tables" in r.stderr, r.stderr


def test_a_bridge_removed_from_the_configuration_leaves_no_buffer(lab):
    rule = [{"filter": "load/#", "qos": 1}]
    edge = lab.musqratt("edge", bridge_table("old", 1, rule, reconnect_min_ms=5000, reconnect_max_ms=5000),
                        persistence=True).start()
    assert publish_numbered("127.0.0.1", edge.port, "load/x", 20, qos=1) == 20
    assert edge.stop() is None
    edge.config = bridge_table("new", 1, rule, reconnect_min_ms=5000, reconnect_max_ms=5000)
    edge.start()
    edge.wait_log(r"bridge 'old' is no longer configured: its buffer is discarded")
    assert edge.stop() is None
    edge.start()
    edge.wait_log(r"bridge 'new': 0 message\(s\) waiting")
    assert "bridge 'old'" not in edge.last_run_log()


def test_removing_every_bridge_discards_their_buffers(lab):
    rule = [{"filter": "load/#", "qos": 1}]
    edge = lab.musqratt("edge", bridge_table("old", 1, rule, reconnect_min_ms=5000, reconnect_max_ms=5000),
                        persistence=True).start()
    assert publish_numbered("127.0.0.1", edge.port, "load/x", 20, qos=1) == 20
    assert edge.stop() is None
    edge.config = ""
    edge.start()
    edge.wait_log(r"bridge 'old' is no longer configured: its buffer is discarded")
    # Nothing collects load/# any more: the bridge configured again finds an empty buffer, not
    # the 20 + 20 messages a forgotten one would hold.
    assert publish_numbered("127.0.0.1", edge.port, "load/x", 20, qos=1) == 20
    assert edge.stop() is None
    edge.config = bridge_table("old", 1, rule, reconnect_min_ms=5000, reconnect_max_ms=5000)
    edge.start()
    edge.wait_log(r"bridge 'old': 0 message\(s\) waiting")
    assert "no longer configured" not in edge.last_run_log()
