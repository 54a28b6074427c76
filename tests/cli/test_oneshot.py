"""One-shot `musqratt-cli pub` / `musqratt-cli sub`, cross-checked with mosquitto_pub/sub."""
import json
import subprocess
import time

import pytest


def mosquitto_sub(broker, *args):
    return subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def mosquitto_pub(broker, *args):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), *args], check=True, timeout=10)


def cli_sub(cli_bin, broker, *args):
    return subprocess.Popen([cli_bin, "sub", "-p", str(broker.port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_subscribed(broker, *filters, count=1):
    """A separate subscriber process has its subscriptions once the broker logs them (the
    `count`th subscription to each filter in this test: the topics are the test's own)."""
    broker.wait_subscribed(*filters, count=count)


@pytest.mark.parametrize("qos", [0, 1, 2])
@pytest.mark.parametrize("version", ["5", "311"])
def test_oneshot_pub_received_by_mosquitto_sub(cli, broker, topic, mosquitto_clients, qos, version):
    sub = mosquitto_sub(broker, "-t", f"{topic}/#", "-C", "1", "-v", "-q", "2", "-W", "10")
    wait_subscribed(broker, f"{topic}/#")
    p = cli("pub", "-h", "127.0.0.1", "-p", str(broker.port), "-V", version, "-i", f"p{qos}",
            "-t", f"{topic}/x", "-m", f"hello q{qos}", "-q", str(qos))
    assert p.returncode == 0, p.stderr
    assert p.stdout == "" and p.stderr == ""
    out, err = sub.communicate(timeout=10)
    assert sub.returncode == 0, err
    assert out.decode() == f"{topic}/x hello q{qos}\n"


def test_oneshot_pub_file_stdin_null_and_retain(cli, broker, topic, mosquitto_clients, tmp_path):
    f = tmp_path / "data.bin"
    f.write_bytes(b"file\x00data")
    assert cli("pub", "-p", str(broker.port), "-t", f"{topic}/f", "-f", str(f), "-r").returncode == 0
    assert cli("pub", "-p", str(broker.port), "-t", f"{topic}/s", "-s", "-r", "-q", "1",
               input="stdin\ndata").returncode == 0
    sub = mosquitto_sub(broker, "-t", f"{topic}/#", "-C", "2", "-W", "10", "-F", "%t %r %x")
    out, err = sub.communicate(timeout=10)
    assert sub.returncode == 0, err
    assert sorted(out.decode().splitlines()) == sorted([
        f"{topic}/f 1 " + b"file\x00data".hex(),
        f"{topic}/s 1 " + b"stdin\ndata".hex(),
    ])
    for t in ("f", "s"):  # clear retained messages with -n (empty payload)
        assert cli("pub", "-p", str(broker.port), "-t", f"{topic}/{t}", "-n", "-r").returncode == 0
    # nothing retained is left: a new subscriber gets only a marker published after it subscribed
    sub = mosquitto_sub(broker, "-t", f"{topic}/#", "-C", "1", "-v", "-W", "10")
    wait_subscribed(broker, f"{topic}/#", count=2)  # the second subscriber
    mosquitto_pub(broker, "-t", f"{topic}/marker", "-m", "marker")
    out, _ = sub.communicate(timeout=10)
    assert out == f"{topic}/marker marker\n".encode()


def test_oneshot_pub_expiry(cli, broker, topic, mosquitto_clients):
    assert cli("pub", "-p", str(broker.port), "-t", topic, "-m", "x", "-r", "--expiry", "30").returncode == 0
    sub = mosquitto_sub(broker, "-t", topic, "-C", "1", "-W", "10", "-F", "%t %r %p", "-V", "5")
    out, err = sub.communicate(timeout=10)
    assert out.decode() == f"{topic} 1 x\n", err
    assert cli("pub", "-p", str(broker.port), "-t", topic, "-n", "-r").returncode == 0


@pytest.mark.parametrize("version", ["5", "311"])
def test_mosquitto_pub_received_by_oneshot_sub(cli_bin, broker, topic, mosquitto_clients, version):
    sub = cli_sub(cli_bin, broker, "-V", version, "-t", f"{topic}/a", "-t", f"{topic}/b", "-C", "2", "-q", "1")
    wait_subscribed(broker, f"{topic}/a", f"{topic}/b")
    mosquitto_pub(broker, "-t", f"{topic}/a", "-m", "first", "-q", "1")
    mosquitto_pub(broker, "-t", f"{topic}/b", "-m", "second")
    mosquitto_pub(broker, "-t", f"{topic}/a", "-m", "third")
    out, err = sub.communicate(timeout=10)
    assert sub.returncode == 0, err
    assert out.decode() == "first\nsecond\n"


def test_oneshot_sub_verbose(cli_bin, broker, topic, mosquitto_clients):
    sub = cli_sub(cli_bin, broker, "-t", f"{topic}/#", "-C", "1", "-v")
    wait_subscribed(broker, f"{topic}/#")
    mosquitto_pub(broker, "-t", f"{topic}/v", "-m", "two words")
    out, err = sub.communicate(timeout=10)
    assert sub.returncode == 0, err
    assert out.decode() == f"{topic}/v two words\n"


def test_oneshot_sub_json(cli_bin, broker, topic, mosquitto_clients, tmp_path):
    sub = cli_sub(cli_bin, broker, "-t", f"{topic}/#", "-C", "2", "--format", "json")
    wait_subscribed(broker, f"{topic}/#")
    mosquitto_pub(broker, "-t", f"{topic}/j", "-m", 'say "hi"\n', "-q", "1", "-r")
    f = tmp_path / "bin"
    f.write_bytes(b"\x80\x81")
    mosquitto_pub(broker, "-t", f"{topic}/j", "-f", str(f))
    out, err = sub.communicate(timeout=10)
    assert sub.returncode == 0, err
    lines = [json.loads(l) for l in out.decode().splitlines()]
    assert lines == [
        {"topic": f"{topic}/j", "qos": 0, "retain": False, "payload": 'say "hi"\n'},
        {"topic": f"{topic}/j", "qos": 0, "retain": False, "payload_base64": "gIE="},
    ]
    mosquitto_pub(broker, "-t", f"{topic}/j", "-n", "-r")


def test_oneshot_sub_retained_flag_in_json(cli, broker, topic, mosquitto_clients):
    mosquitto_pub(broker, "-t", topic, "-m", "r", "-r")
    p = cli("sub", "-p", str(broker.port), "-t", topic, "-C", "1", "-W", "5", "--format", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"topic": topic, "qos": 0, "retain": True, "payload": "r"}
    mosquitto_pub(broker, "-t", topic, "-n", "-r")


def test_oneshot_sub_timeout_exit_27(cli, broker, topic):
    t0 = time.monotonic()
    p = cli("sub", "-p", str(broker.port), "-t", topic, "-W", "0.5")
    elapsed = time.monotonic() - t0
    assert p.returncode == 27
    assert p.stdout == ""
    assert p.stderr == "error: timed out after 0.5 s (0 messages received)\n"
    assert 0.4 < elapsed < 5


def test_oneshot_sub_count_before_timeout(cli_bin, broker, topic, mosquitto_clients):
    sub = cli_sub(cli_bin, broker, "-t", topic, "-C", "1", "-W", "10")
    wait_subscribed(broker, topic)
    t0 = time.monotonic()
    mosquitto_pub(broker, "-t", topic, "-m", "quick")
    out, err = sub.communicate(timeout=10)
    assert sub.returncode == 0, err
    assert out == b"quick\n"
    assert time.monotonic() - t0 < 5


def test_oneshot_sub_sigterm_exits_cleanly(cli_bin, broker, topic):
    sub = cli_sub(cli_bin, broker, "-t", topic)
    wait_subscribed(broker, topic)  # running, connected and subscribed
    sub.terminate()
    out, err = sub.communicate(timeout=5)
    assert sub.returncode == 0, err


def test_oneshot_help(cli):
    p = cli("pub", "--help")
    assert p.returncode == 0 and "-t TOPIC" in p.stdout and "--expiry" in p.stdout
    p = cli("sub", "--help")
    assert p.returncode == 0 and "-C COUNT" in p.stdout and "exit 27" in p.stdout
