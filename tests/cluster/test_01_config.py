"""The [cluster] table: errors name the key, flags and the file agree, and a node without one
is a single node that never looks for NATS."""
import re
import subprocess

from conftest import MUSQRATT_BIN, Node, wait_for


def _run(*args):
    return subprocess.run([MUSQRATT_BIN, *args], capture_output=True, text=True, timeout=10)


def test_bad_tables_are_refused_naming_the_key(tmp_path):
    cases = [
        ('[cluster]\nnode = "a"\n', "[cluster] nats: at least one"),
        ('[cluster]\nnats = ["nats://127.0.0.1:4222"]\n', "[cluster] node: a name"),
        ('[cluster]\nnats = ["nats://127.0.0.1:4222"]\nnode = "a"\nreplicas = 2\n', "[cluster] replicas: expected 1 or 3, got 2"),
        ('[cluster]\nnats = ["http://h:1"]\nnode = "a"\n', "[cluster] nats: 'http://h:1': scheme"),
        ('[cluster]\nnats = ["nats://h:1"]\nnode = "a.b"\n', "[cluster] node: 'a.b'"),
        ('[cluster]\nnats = ["nats://h:1"]\nnode = "a"\nbogus = 1\n', "unknown key 'bogus' in [cluster]"),
        ('[cluster]\nnats = ["nats://h:1"]\nnode = "a"\nreplicas = "x"\n', "[cluster] replicas: expected an integer"),
        ('cluster = 3\n', "'cluster' must be a table"),
        ('[clusters]\nnode = "a"\n', "unknown table [clusters]"),
    ]
    for text, message in cases:
        f = tmp_path / "c.toml"
        f.write_text(text)
        r = _run("--config", str(f))
        assert r.returncode == 2, (text, r.stderr)
        assert message in r.stderr, (text, r.stderr)
    r = _run("--cluster-node", "a", "--cluster-replicas", "5")
    assert r.returncode == 2 and "[cluster] nats" in r.stderr


def test_table_round_trips_and_flags_win(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[cluster]\nnats = ["nats://127.0.0.1:4222", "tls://n2:4223"]\nnode = "edge-1"\nreplicas = 3\n')
    out = _run("--config", str(f), "--cluster-node", "edge-2", "--print-config").stdout
    section = out[out.index("\n[cluster]"):]
    assert re.search(r'^node = "edge-2"$', section, re.M)
    assert re.search(r'^nats = \["nats://127.0.0.1:4222", "tls://n2:4223"\]$', section, re.M)
    assert re.search(r"^replicas = 3$", section, re.M)
    again = tmp_path / "again.toml"
    again.write_text(out)
    assert _run("--config", str(again), "--print-config").stdout == out


def test_without_a_table_nothing_is_clustered():
    out = _run("--print-config").stdout
    assert "\n# [cluster]\n" in out  # shown, commented out
    help_text = _run("--help").stdout
    for flag in ("--cluster-nats", "--cluster-node", "--cluster-replicas", "--cluster-credentials", "--cluster-tls-ca"):
        assert flag in help_text


def test_a_node_starts_while_nats_is_unreachable(tmp_path):
    """Local traffic must not wait for the cluster: with no NATS server listening the node
    serves clients at once and says it keeps trying."""
    from cluster_helpers import client
    node = Node("lonely", str(tmp_path), ["nats://127.0.0.1:1"], 1, [])
    try:
        node.start(wait_streams=False)
        wait_for(lambda: "no NATS server reachable yet" in node.log(), 10, "the warning")
        sub = client(node)
        sub.subscribe("local/t", 1)
        pub = client(node)
        pub.publish("local/t", b"still works", qos=1)
        assert sub.take(1, timeout=5)[0].payload == b"still works"
    finally:
        node.stop()
