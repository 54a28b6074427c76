"""Script-driven shell (stdin and -c): sessions, named connections, formats, payloads,
QoS, retain, expiry, protocol versions."""
import json
import re
import time

import pytest

from conftest import run_cli
from fake_broker import FakeBroker


def conn(broker, name="c", extra=""):
    return f"connect {name} --port {broker.port} {extra}".strip()


def test_stdin_session_receives_own_message(cli, broker, topic):
    script = "\n".join([
        conn(broker, "me"),
        f"sub {topic}/#",
        f"sub {topic}/marker",
        f"pub {topic}/a hello",
        "wait --count 1",
        f"unsub {topic}/#",
        f"pub {topic}/a after-unsub",
        f"pub {topic}/marker end",  # comes after after-unsub, had that been delivered
        "wait --count 1",
        "disconnect",
    ]) + "\n"
    p = cli(input=script)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "connected me (session present: no)"
    assert f"subscribed {topic}/# (granted qos 0)" in lines
    assert f"{topic}/a qos=0 retain=0 hello" in lines
    assert f"unsubscribed {topic}/#" in lines
    assert "after-unsub" not in "\n".join(l for l in lines if not l.startswith("published"))
    assert lines[-1] == "disconnected me"
    assert p.stderr == ""


def test_c_mode_with_quotes_and_semicolons(cli, broker, topic):
    p = cli("-c", f"{conn(broker)}; sub {topic}; pub {topic} 'a; b \"c\"'; wait --count 1")
    assert p.returncode == 0, p.stderr
    assert f'{topic} qos=0 retain=0 a; b "c"' in p.stdout.splitlines()


def test_global_host_and_port_defaults(cli, broker, topic):
    p = cli("--host", "127.0.0.1", "--port", str(broker.port), "-c", f"connect; sub {topic}; pub {topic} x; wait --count 1")
    assert p.returncode == 0, p.stderr
    assert re.match(r"connected musqratt-cli-\d+-1 \(session present: no\)", p.stdout)


def test_named_connections_and_use(cli, broker, topic):
    p = cli("-c", "; ".join([
        conn(broker, "a"), f"sub {topic}/a",
        conn(broker, "b"), f"sub {topic}/b",
        "status",
        "use a", f"pub {topic}/b from-a",  # a publishes, b receives
        "wait --count 1",
        "use b", f"pub {topic}/a from-b",
        "wait --count 1",
        "disconnect a", "status",
    ]))
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert f"[b] {topic}/b qos=0 retain=0 from-a" in out
    assert f"[a] {topic}/a qos=0 retain=0 from-b" in out
    assert "using a" in out and "using b" in out
    status = [l for l in out if "subscriptions:" in l]
    assert len(status) == 4
    # first status: b is current (connect makes the new one current)
    assert re.fullmatch(rf"  a 127\.0\.0\.1:{broker.port} v5 connected subscriptions: {topic}/a \(qos 0\)", status[0])
    assert re.fullmatch(rf"\* b 127\.0\.0\.1:{broker.port} v5 connected subscriptions: {topic}/b \(qos 0\)", status[1])
    assert status[2].startswith("  a ") and " disconnected " in status[2]
    assert status[3].startswith("* b ") and " connected " in status[3]


def test_status_without_connections(cli):
    p = cli("-c", "status")
    assert p.returncode == 0 and p.stdout.strip() == "no connections"


def test_reconnect_same_name_and_already_connected(cli, broker):
    p = cli("-c", f"{conn(broker, 'r')}; {conn(broker, 'r')}; disconnect; {conn(broker, 'r')}; status")
    assert p.returncode == 1
    assert p.stderr.strip() == "error: 'r' is already connected (disconnect it first)"
    assert p.stdout.count("connected r (session present: no)") == 2
    assert " r " in p.stdout and " connected subscriptions" in p.stdout


@pytest.mark.parametrize("how", ["flag", "command"])
def test_json_format(cli, broker, topic, how):
    pre = ["--format", "json"] if how == "flag" else []
    cmd = "" if how == "flag" else "format json; "
    p = cli(*pre, "-c", f'{cmd}{conn(broker)}; sub {topic}; pub {topic} "line1\\nline2 \\"q\\""; pub {topic} ""; wait --count 2')
    assert p.returncode == 0, p.stderr
    objs = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    assert objs == [
        {"topic": topic, "qos": 0, "retain": False, "payload": 'line1\nline2 "q"'},
        {"topic": topic, "qos": 0, "retain": False, "payload": ""},
    ]


def test_json_binary_payload_is_base64(cli, broker, topic, tmp_path):
    f = tmp_path / "bin"
    f.write_bytes(b"\xff\x00\xfe")
    p = cli("--format", "json", "-c", f"{conn(broker)}; sub {topic}; pub {topic} @{f}; wait --count 1")
    assert p.returncode == 0, p.stderr
    obj = json.loads(next(l for l in p.stdout.splitlines() if l.startswith("{")))
    assert obj == {"topic": topic, "qos": 0, "retain": False, "payload_base64": "/wD+"}


def test_payload_from_file_and_stdin(cli, broker, topic, tmp_path):
    f = tmp_path / "payload.txt"
    f.write_text("from-file")
    p = cli("-c", f"{conn(broker)}; sub {topic}; pub {topic} @{f}; pub {topic} -; wait --count 2",
            input="from-stdin")
    assert p.returncode == 0, p.stderr
    assert f"{topic} qos=0 retain=0 from-file" in p.stdout.splitlines()
    assert f"{topic} qos=0 retain=0 from-stdin" in p.stdout.splitlines()


def test_payload_file_missing(cli, broker, topic):
    p = cli("-c", f"{conn(broker)}; pub {topic} @/nonexistent/file")
    assert p.returncode == 1
    assert p.stderr.startswith("error: cannot read '/nonexistent/file'")


def test_stdin_payload_refused_when_script_comes_from_stdin(cli, broker, topic):
    p = cli(input=f"{conn(broker)}\npub {topic} -\nstatus\n")
    assert p.returncode == 1
    assert "error: payload '-' needs standard input" in p.stderr
    assert " connected subscriptions" in p.stdout  # the script went on


@pytest.mark.parametrize("version", ["--v5", "--v311"])
def test_qos_levels(cli, broker, topic, version):
    p = cli("-c", "; ".join([
        conn(broker, extra=version), f"sub {topic}/# --qos 2",
        f"pub {topic}/0 q0", f"pub {topic}/1 q1 --qos 1", f"pub {topic}/2 q2 --qos 2",
        "wait --count 3"]))
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert f"subscribed {topic}/# (granted qos 2)" in out
    assert f"published {topic}/0 (qos 0)" in out
    assert any(re.fullmatch(rf"published {topic}/1 \(qos 1, packet id \d+\)", l) for l in out)
    assert any(re.fullmatch(rf"published {topic}/2 \(qos 2, packet id \d+\)", l) for l in out)
    for q in range(3):
        assert f"{topic}/{q} qos={q} retain=0 q{q}" in out


def test_subscription_qos_downgrades_delivery(cli, broker, topic):
    p = cli("-c", f"{conn(broker)}; sub {topic} --qos 1; pub {topic} x --qos 2; wait --count 1")
    assert p.returncode == 0, p.stderr
    assert f"{topic} qos=1 retain=0 x" in p.stdout.splitlines()


def test_retain(cli, broker, topic):
    p = cli("-c", f"{conn(broker, 'p')}; pub {topic} kept --retain --qos 1; {conn(broker, 's')}; sub {topic}; wait --count 1;"
                  f" use p; pub {topic} '' --retain --qos 1")
    assert p.returncode == 0, p.stderr
    assert f"[s] {topic} qos=0 retain=1 kept" in p.stdout.splitlines()
    # the empty retained message cleared it
    p = cli("-c", f"{conn(broker)}; sub {topic}; pub {topic} marker; wait --count 1")
    assert p.returncode == 0, p.stderr
    assert f"{topic} qos=0 retain=0 marker" in p.stdout.splitlines()  # the first to arrive
    assert "retain=1" not in p.stdout


def test_message_expiry_v5(cli, broker, topic):
    p = cli("-c", f"{conn(broker, 'p')}; pub {topic}/short s --retain --expiry 1 --qos 1;"
                  f" pub {topic}/long l --retain --expiry 60 --qos 1; wait 2.2;"
                  f" {conn(broker, 's')}; sub {topic}/#; pub {topic}/marker m; wait --count 2;"
                  f" use p; pub {topic}/long '' --retain")
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert f"[s] {topic}/long qos=0 retain=1 l" in out
    assert not any("/short" in l for l in out if "retain=" in l)


def test_expiry_requires_v5(cli, broker, topic):
    p = cli("-c", f"{conn(broker, extra='--v311')}; pub {topic} x --expiry 5")
    assert p.returncode == 1
    assert p.stderr.strip() == "error: --expiry needs MQTT 5.0 (--v5)"
    p = cli("-c", f"{conn(broker, extra='--v311 --session-expiry 5')}")
    assert p.stderr.strip() == "error: --session-expiry needs MQTT 5.0 (--v5)"


def test_session_resume(cli, broker, topic):
    cid = topic.replace("/", "-")
    p = cli("-c", f"{conn(broker, cid, '--resume --session-expiry 60')}; sub {topic} --qos 1; disconnect;"
                  f" {conn(broker, cid, '--resume --session-expiry 60')}; status;"
                  f" {conn(broker, 'other')}; pub {topic} queued --qos 1; use {cid}; wait --count 1;"
                  f" disconnect {cid}; {conn(broker, cid, '--clean')}")
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out.count(f"connected {cid} (session present: yes)") == 1
    assert out.count(f"connected {cid} (session present: no)") == 2
    # subscriptions of a resumed session are still listed
    assert any(l.startswith(f"* {cid} ") and f"{topic} (qos 1)" in l for l in out)
    assert f"[{cid}] {topic} qos=1 retain=0 queued" in out


@pytest.mark.parametrize("flag,level", [("--v5", 5), ("--v311", 4), ("", 5)])
def test_protocol_version_on_the_wire(cli, flag, level):
    fb = FakeBroker()
    try:
        p = cli("-c", f"connect v --port {fb.port} {flag} --keepalive 30; status")
        assert p.returncode == 0, p.stderr
        assert fb.connects[0]["level"] == level
        assert fb.connects[0]["keepalive"] == 30
        assert fb.connects[0]["clean"] is True
        assert (" v5 " if level == 5 else " v311 ") in p.stdout
    finally:
        fb.close()


def test_session_present_reported(cli):
    fb = FakeBroker(session_present=True)
    try:
        p = cli("-c", f"connect keep --port {fb.port} --resume --session-expiry 10")
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == "connected keep (session present: yes)"
        assert fb.connects[0]["clean"] is False
    finally:
        fb.close()


def test_puback_failure_reason_v5(cli):
    fb = FakeBroker(puback_reason=0x87, pubrec_reason=0x97)
    try:
        p = cli("-c", f"connect x --port {fb.port}; pub t a --qos 1; pub t b --qos 2; pub t c")
        assert p.returncode == 1
        assert p.stderr.splitlines() == [
            "error: publish to 't' rejected: not authorized (0x87)",
            "error: publish to 't' rejected: quota exceeded (0x97)",
        ]
        assert "published t (qos 0)" in p.stdout
    finally:
        fb.close()


def test_puback_success_reason_is_shown(cli):
    fb = FakeBroker(puback_reason=0x10)
    try:
        p = cli("-c", f"connect x --port {fb.port}; pub t a --qos 1")
        assert p.returncode == 0, p.stderr
        assert re.fullmatch(r"published t \(qos 1, packet id \d+, no matching subscribers \(0x10\)\)",
                            p.stdout.splitlines()[-1])
    finally:
        fb.close()


@pytest.mark.parametrize("flag,expected", [("--v5", "not authorized (0x87)"), ("--v311", "failure (0x80)")])
def test_suback_failure(cli, flag, expected):
    fb = FakeBroker(suback_code=0x87 if flag == "--v5" else 0x80)
    try:
        p = cli("-c", f"connect x --port {fb.port} {flag}; sub t; status")
        assert p.returncode == 1
        assert p.stderr.strip() == f"error: subscription to 't' refused: {expected}"
        assert "subscriptions: none" in p.stdout
    finally:
        fb.close()


def test_wait_count_timeout(cli, broker, topic):
    p = cli("-c", f"{conn(broker)}; sub {topic}; pub {topic} one; wait --count 2 --timeout 0.5")
    assert p.returncode == 1
    assert p.stderr.strip() == "error: wait: 1 of 2 messages arrived within 0.5 s"


def test_help_documents_every_command(cli):
    p = cli("-c", "help")
    assert p.returncode == 0
    for c in ["connect", "disconnect", "sub", "unsub", "pub", "status", "use", "format", "wait", "help", "quit"]:
        assert re.search(rf"^  {c} ", p.stdout, re.M), c
    p = cli("-c", "help pub")
    assert p.stdout.startswith("usage: pub TOPIC PAYLOAD")
    assert "packet id" in p.stdout and "@FILE" in p.stdout
    p = cli("--help")
    assert p.returncode == 0
    for c in ["connect [CLIENT_ID]", "disconnect [NAME]", "sub TOPIC_FILTER", "unsub TOPIC_FILTER",
              "pub TOPIC PAYLOAD", "status", "use NAME", "wait SECONDS", "musqratt-cli pub", "musqratt-cli sub"]:
        assert c in p.stdout, c


def test_quit_stops_script(cli):
    p = cli("-c", "quit; bogus")
    assert p.returncode == 0 and p.stderr == ""
    p = cli(input="exit\nbogus\n")
    assert p.returncode == 0 and p.stderr == ""
