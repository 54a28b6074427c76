"""Error lines (one line, 'error: ' prefix) and exit codes in -c, stdin and one-shot modes."""
import pytest

from conftest import closed_port


def conn(broker, name="c", extra=""):
    return f"connect {name} --port {broker.port} {extra}".strip()


@pytest.mark.parametrize("mode", ["-c", "stdin"])
def test_unknown_command_continues_and_fails_at_end(cli, mode):
    script = "frobnicate now; status"
    p = cli("-c", script) if mode == "-c" else cli(input=script.replace("; ", "\n") + "\n")
    assert p.returncode == 1
    assert p.stderr == "error: unknown command 'frobnicate' (try 'help')\n"
    assert p.stdout.strip() == "no connections"


@pytest.mark.parametrize("command", ["sub t", "unsub t", "pub t x", "disconnect"])
def test_not_connected(cli, command):
    p = cli("-c", command)
    assert p.returncode == 1
    assert p.stderr == "error: not connected (use 'connect' first)\n"


def test_not_connected_after_disconnect(cli, broker):
    p = cli("-c", f"{conn(broker, 'gone')}; disconnect; pub t x; disconnect gone")
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        "error: not connected: 'gone' is disconnected (use 'connect gone')",
        "error: not connected: 'gone' is already disconnected",
    ]


def test_refused_on_closed_port(cli):
    port = closed_port()
    p = cli("-c", f"connect x --port {port}")
    assert p.returncode == 1
    assert p.stderr == f"error: cannot connect to 127.0.0.1:{port}: Connection refused\n"
    p = cli("pub", "-p", str(port), "-t", "t", "-m", "x")
    assert p.returncode == 1
    assert p.stderr == f"error: cannot connect to 127.0.0.1:{port}: Connection refused\n"
    p = cli("sub", "-p", str(port), "-t", "t")
    assert p.returncode == 1
    assert p.stderr.startswith("error: cannot connect")


@pytest.mark.parametrize("flag,reason", [("--v5", "not authorized (0x87)"), ("--v311", "not authorized (0x05)")])
def test_connack_refusal_reason(cli, auth_broker, flag, reason):
    p = cli("-c", f"connect x --port {auth_broker.port} {flag}; status")
    assert p.returncode == 1
    assert p.stderr == f"error: connection refused: {reason}\n"
    assert p.stdout.strip() == "no connections"


def test_connack_refusal_oneshot(cli, auth_broker):
    p = cli("pub", "-p", str(auth_broker.port), "-t", "t", "-m", "x")
    assert p.returncode == 1
    assert p.stderr == "error: connection refused: not authorized (0x87)\n"
    p = cli("sub", "-p", str(auth_broker.port), "-V", "311", "-t", "t")
    assert p.returncode == 1
    assert p.stderr == "error: connection refused: not authorized (0x05)\n"


@pytest.mark.parametrize("command,error", [
    ("sub t --qos 3", "bad QoS '3': must be 0..2"),
    ("pub t x --qos -1", "bad QoS '-1': must be 0..2"),
    ("pub t x --qos one", "bad QoS 'one': not a number"),
])
def test_bad_qos(cli, broker, command, error):
    p = cli("-c", f"{conn(broker)}; {command}")
    assert p.returncode == 1
    assert p.stderr == f"error: {error}\n"


@pytest.mark.parametrize("command,error", [
    ("pub a/+/b x", "bad topic 'a/+/b': wildcards '+' and '#' are not allowed when publishing"),
    ("pub a/# x", "bad topic 'a/#': wildcards '+' and '#' are not allowed when publishing"),
    ("pub '' x", "bad topic '': must not be empty"),
    ("sub ''", "bad topic filter '': must not be empty"),
    ("sub a/#/b", "bad topic filter 'a/#/b': '#' must be a whole level and the last one"),
    ("sub a#", "bad topic filter 'a#': '#' must be a whole level and the last one"),
    ("sub a/b+", "bad topic filter 'a/b+': '+' must be a whole level"),
    ("unsub +x", "bad topic filter '+x': '+' must be a whole level"),
])
def test_bad_topic(cli, broker, command, error):
    p = cli("-c", f"{conn(broker)}; {command}; status")
    assert p.returncode == 1
    assert p.stderr == f"error: {error}\n"
    assert " connected " in p.stdout  # the connection survived


def test_valid_wildcard_filters(cli, broker):
    p = cli("-c", f"{conn(broker)}; sub '#'; sub +; sub a/+/c/#; sub /+/; unsub '#'")
    assert p.returncode == 0, p.stderr


def test_bad_topic_invalid_utf8(cli_bin, broker):
    import subprocess
    p = subprocess.run([cli_bin, "-c", f"connect x --port {broker.port}; pub " .encode() + b"a\xffb x"],
                       capture_output=True, timeout=10)
    assert p.returncode == 1
    assert p.stderr == b"error: bad topic: not valid UTF-8\n"
    p = subprocess.run([cli_bin, "pub", "-p", str(broker.port), "-t", b"\xc0\x80", "-m", "x"],
                       capture_output=True, timeout=10)
    assert p.returncode == 1 and p.stderr == b"error: bad topic: not valid UTF-8\n"


def test_usage_errors(cli, broker):
    p = cli("-c", f"{conn(broker)}; pub onlytopic; connect a --bogus; use nobody; format xml; wait; help nope")
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        "error: usage: pub TOPIC PAYLOAD [--qos N] [--retain] [--expiry S]",
        "error: connect: unknown option '--bogus'",
        "error: no connection named 'nobody'",
        "error: bad format 'xml': expected json or text",
        "error: usage: wait SECONDS | wait --count N [--timeout S]",
        "error: unknown command 'nope' (try 'help')",
    ]


def test_unterminated_quote(cli):
    p = cli("-c", "pub t 'oops")
    assert p.returncode == 1 and p.stderr == "error: unterminated ' quote\n"


def test_bad_program_arguments(cli):
    p = cli("--frob")
    assert p.returncode == 1
    assert p.stderr == "error: unknown argument '--frob' (see 'musqratt-cli --help')\n"


@pytest.mark.parametrize("args,error", [
    (["pub", "-m", "x"], "pub: give exactly one topic with -t"),
    (["pub", "-t", "t"], "pub: give exactly one of -m, -f, -s, -n"),
    (["pub", "-t", "t", "-m", "x", "-q", "5"], "bad QoS '5': must be 0..2"),
    (["pub", "-t", "t/#", "-m", "x"], "bad topic 't/#': wildcards '+' and '#' are not allowed when publishing"),
    (["pub", "-t", "t", "-m", "x", "-V", "4"], "bad protocol version '4': expected 5 or 311"),
    (["pub", "-t", "t", "-m", "x", "-V", "311", "--expiry", "3"], "--expiry needs MQTT 5.0 (-V 5)"),
    (["pub", "-t", "t", "-f", "/nonexistent"], "cannot read '/nonexistent': No such file or directory"),
    (["sub"], "sub: give at least one topic filter with -t"),
    (["sub", "-t", "a/#/b"], "bad topic filter 'a/#/b': '#' must be a whole level and the last one"),
    (["sub", "-t", "a", "-q", "9"], "bad QoS '9': must be 0..2"),
    (["sub", "-t", "a", "-x"], "sub: unknown option '-x' (see 'musqratt-cli sub --help')"),
    (["sub", "-t", "a", "--format", "xml"], "bad format 'xml': expected json or text"),
])
def test_oneshot_argument_errors(cli, broker, args, error):
    p = cli(*args[:1], "-p", str(broker.port), *args[1:])
    assert p.returncode == 1
    assert p.stderr == f"error: {error}\n"


def test_no_connack_times_out(cli):
    import socket
    with socket.socket() as s:  # accepts (backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        p = cli("-c", f"connect x --port {port} --timeout 0.5; status")
    assert p.returncode == 1
    assert p.stderr == f"error: no CONNACK from 127.0.0.1:{port} within 0.5 s\n"
    assert p.stdout.strip() == "no connections"


def test_broker_going_away_is_reported(cli_bin, tmp_path):
    import select
    import subprocess
    from conftest import start_mosquitto
    b = start_mosquitto(tmp_path)
    proc = subprocess.Popen([cli_bin], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(f"connect lost --port {b.port}\n".encode())
        proc.stdin.flush()
        assert proc.stdout.readline() == b"connected lost (session present: no)\n"
        b.stop()
        # the shell notices the lost connection and says so before it is given more to do
        ready, _, _ = select.select([proc.stderr], [], [], 10)
        assert ready, "no report of the lost connection within 10 s"
        first = proc.stderr.readline()
        out, err = proc.communicate(b"pub t x\nstatus\n", timeout=10)
        err = first + err
    finally:
        b.stop()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    lines = err.decode().splitlines()
    assert lines[0].startswith("disconnected lost: connection lost")
    assert lines[1] == "error: not connected: 'lost' is disconnected (use 'connect lost')"
    assert b" lost 127.0.0.1:" in out and b" disconnected " in out
