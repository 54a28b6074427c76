"""The HTTP endpoint for operators (http_listen): authentication, the /api/v1 resources,
/metrics checked by promtool and scraped by a real Prometheus server, /healthz and /readyz."""
import json
import queue
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import paho.mqtt.client as paho
import pytest

from conftest import MUSQRATT_BIN, MUSQRATT_CLI, http, wait_for

TOKEN = "t0ken-for-tests_0123456789"


def _paho(port, client_id, protocol=paho.MQTTv311, clean=True, username=None, password=None):
    c = paho.Client(client_id=client_id, protocol=protocol,
                    clean_session=clean if protocol != paho.MQTTv5 else None)
    if username:
        c.username_pw_set(username, password)
    c.got = queue.Queue()
    c.disconnects = queue.Queue()
    connected = threading.Event()
    c.on_connect = lambda *a, **k: connected.set()
    c.on_message = lambda cl, u, m: c.got.put((m.topic, m.payload))
    c.on_disconnect = lambda cl, u, rc, *rest: c.disconnects.put(rc)
    kw = {}
    if protocol == paho.MQTTv5:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties
        p = Properties(PacketTypes.CONNECT)
        p.SessionExpiryInterval = 0 if clean else 600
        kw = {"clean_start": clean, "properties": p}
    c.connect("127.0.0.1", port, keepalive=30, **kw)
    c.loop_start()
    assert connected.wait(5), "no CONNACK"
    return c


def _sub(c, topic, qos=0):
    done = threading.Event()
    c.on_subscribe = lambda *a, **k: done.set()
    c.subscribe(topic, qos)
    assert done.wait(5)


def _stop(*clients):
    for c in clients:
        c.disconnect()
        c.loop_stop()


@pytest.fixture
def secured(web_broker, tmp_path):
    """A broker with a password file (alice is an HTTP admin, bob is not) and a token file."""
    pw = tmp_path / "passwords"
    for user, password in (("alice", "wonderland"), ("bob", "builder")):
        subprocess.run([MUSQRATT_CLI, "passwd", str(pw), user, "-p", password], check=True, capture_output=True)
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# HTTP API tokens\n{TOKEN}\n")
    b = web_broker("--password-file", str(pw), "--http-listen", "127.0.0.1:0", "--http-admins", "alice",
                   "--http-token-file", str(tokens), "--sys-interval", "1")
    b.url = f"http://127.0.0.1:{b.http_port}"
    return b


def test_refused_requests_get_401_or_403_and_no_hint(secured):
    u = secured.url
    bodies = set()
    for path in ("/metrics", "/api/v1/clients", "/api/v1/clients/nobody", "/api/v1/retained", "/no/such/path"):
        for creds in ({}, {"user": "alice", "password": "wrong"}, {"user": "nobody", "password": "x"},
                      {"token": "wrong-token"}):
            status, headers, body = http("GET", u + path, **creds)
            assert status == 401, (path, creds)
            challenges = " ".join(headers.get_all("WWW-Authenticate") or [])
            assert "Basic" in challenges and "Bearer" in challenges
            bodies.add(body)
        # A right password of a user who is not an HTTP admin: 403, whether the path exists or not.
        assert http("GET", u + path, user="bob", password="builder")[0] == 403, path
    assert len(bodies) == 1, bodies  # refusals do not depend on the path or on what was wrong
    assert http("GET", u + "/metrics", user="alice", password="wonderland")[0] == 200
    assert http("GET", u + "/metrics", token=TOKEN)[0] == 200
    assert http("GET", u + "/no/such/path", token=TOKEN)[0] == 404
    # Probes need nothing.
    assert http("GET", u + "/healthz")[0] == 200
    status, _, body = http("GET", u + "/readyz")
    assert status == 200 and json.loads(body) == {"ready": True, "checks": {"listeners": True}}


def test_http_listener_off_loopback_without_credentials_refuses_to_start():
    r = subprocess.run([MUSQRATT_BIN, "--listen", "127.0.0.1:0", "--http-listen", "0.0.0.0:0"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert "http_listen is not on loopback" in r.stderr
    r = subprocess.run([MUSQRATT_BIN, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                        "--http-admins", "alice"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "http_admins needs password_file" in r.stderr


def test_clients_paged_with_their_facts(secured):
    clients = [_paho(secured.mqtt_port, f"dev-{i:02d}", username="bob", password="builder") for i in range(7)]
    v5 = _paho(secured.mqtt_port, "dev-v5", protocol=paho.MQTTv5, username="alice", password="wonderland")
    _sub(v5, "a/#", 1)
    _sub(v5, "b/+", 0)
    ids, after, pages = [], None, 0
    while True:
        q = "?limit=3" + (f"&after={urllib.parse.quote(after, safe='')}" if after else "")
        status, _, body = http("GET", secured.url + "/api/v1/clients" + q, token=TOKEN)
        assert status == 200
        j = json.loads(body)
        assert len(j["clients"]) <= 3
        ids += [c["client_id"] for c in j["clients"]]
        pages += 1
        after = j["next"]
        if after is None:
            break
    assert ids == sorted([f"dev-{i:02d}" for i in range(7)] + ["dev-v5"]) and pages == 3
    status, _, body = http("GET", secured.url + "/api/v1/clients/dev-v5", user="alice", password="wonderland")
    j = json.loads(body)
    local_port = v5.socket().getsockname()[1]
    assert j["connected"] is True and j["username"] == "alice" and j["protocol"] == "5.0"
    assert j["address"] == f"127.0.0.1:{local_port}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", j["connected_since"])
    assert j["subscriptions"] == 2 and j["queued"] == 0 and j["in_flight"] == 0
    assert [s["filter"] for s in j["subscription_list"]] == ["a/#", "b/+"]
    j = json.loads(http("GET", secured.url + "/api/v1/clients/dev-03", token=TOKEN)[2])
    assert j["protocol"] == "3.1.1" and j["username"] == "bob"
    assert http("GET", secured.url + "/api/v1/clients/nobody", token=TOKEN)[0] == 404
    _stop(v5, *clients)


def _mqtt5_raw(port, client_id, expiry, user, password):
    """An MQTT 5 client on a plain socket (paho 1.6 drops a DISCONNECT reason code sent
    without properties): CONNECT with a session expiry and a SUBSCRIBE; returns the socket."""
    def s(x):
        return struct.pack("!H", len(x)) + x
    props = b"\x11" + struct.pack("!I", expiry)
    body = s(b"MQTT") + bytes([5, 0xC0]) + struct.pack("!H", 60) + bytes([len(props)]) + props + s(client_id.encode())
    body += s(user.encode()) + s(password.encode())
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(bytes([0x10, len(body)]) + body)
    assert sock.recv(2)[0] == 0x20
    sock.recv(64)
    sub = struct.pack("!H", 1) + b"\x00" + s(b"keep/#") + b"\x01"
    sock.sendall(bytes([0x82, len(sub)]) + sub)
    assert sock.recv(1)[0] == 0x90
    sock.recv(64)
    return sock


def test_delete_disconnects_and_with_session_drops_it(secured):
    keeper = _mqtt5_raw(secured.mqtt_port, "keeper", 600, "bob", "builder")
    status, _, body = http("DELETE", secured.url + "/api/v1/clients/keeper", token=TOKEN)
    assert status == 200 and json.loads(body) == {"client_id": "keeper", "disconnected": True, "session_dropped": False}
    data = b""
    while True:
        chunk = keeper.recv(64)
        if not chunk:
            break
        data += chunk
    assert data[0] == 0xE0 and data[2] == 0x98, data.hex()  # DISCONNECT 0x98 Administrative action, then closed
    keeper.close()
    secured.wait_log(r"client 'keeper' disconnected from .*: administrative action: disconnected by an administrator")
    j = json.loads(http("GET", secured.url + "/api/v1/clients/keeper", token=TOKEN)[2])
    assert j["connected"] is False and j["subscriptions"] == 1  # the session stays
    # A message for the offline session is queued, and shows.
    pub = _paho(secured.mqtt_port, "pub", username="bob", password="builder")
    pub.publish("keep/x", "for later", qos=1).wait_for_publish(5)
    wait_for(lambda: json.loads(http("GET", secured.url + "/api/v1/clients/keeper", token=TOKEN)[2])["queued"] == 1,
             what="the queued message shown")
    assert http("DELETE", secured.url + "/api/v1/clients/keeper", token=TOKEN)[0] == 409
    status, _, body = http("DELETE", secured.url + "/api/v1/clients/keeper?session=true", token=TOKEN)
    assert status == 200 and json.loads(body)["session_dropped"] is True
    assert http("GET", secured.url + "/api/v1/clients/keeper", token=TOKEN)[0] == 404
    # Connected, with session=true: disconnected and the session gone; reconnecting finds none.
    old = _paho(secured.mqtt_port, "old", clean=False, username="bob", password="builder")
    status, _, body = http("DELETE", secured.url + "/api/v1/clients/old?session=true", token=TOKEN)
    assert json.loads(body) == {"client_id": "old", "disconnected": True, "session_dropped": True}
    assert old.disconnects.get(timeout=5) != 0  # 3.1.1 has no DISCONNECT from the server: it closes
    old.loop_stop()
    again = paho.Client(client_id="old", clean_session=False)
    again.username_pw_set("bob", "builder")
    present = queue.Queue()
    again.on_connect = lambda cl, u, flags, rc: present.put(flags["session present"])
    again.connect("127.0.0.1", secured.mqtt_port)
    again.loop_start()
    assert present.get(timeout=5) == 0
    _stop(again, pub)


def test_subscriptions_and_retained_listings(secured):
    a = _paho(secured.mqtt_port, "a", username="bob", password="builder")
    _sub(a, "home/+/temp", 1)
    _sub(a, "$share/g/home/kitchen/humidity", 0)
    b = _paho(secured.mqtt_port, "b", username="bob", password="builder")
    _sub(b, "office/#", 2)
    for i in range(5):
        b.publish(f"home/room{i}/temp", f"{20 + i}", qos=1, retain=True).wait_for_publish(5)
    url = secured.url + "/api/v1/subscriptions?filter=" + urllib.parse.quote("home/#", safe="")
    j = json.loads(http("GET", url, token=TOKEN)[2])
    assert sorted((s["client_id"], s["filter"]) for s in j["subscriptions"]) == [
        ("a", "$share/g/home/kitchen/humidity"), ("a", "home/+/temp")]
    j = json.loads(http("GET", secured.url + "/api/v1/subscriptions", token=TOKEN)[2])
    assert ("b", "office/#", 2) in {(s["client_id"], s["filter"], s["qos"]) for s in j["subscriptions"]}
    assert http("GET", secured.url + "/api/v1/subscriptions?filter=a/%23/b", token=TOKEN)[0] == 400
    topics, after = [], None
    for _ in range(10):
        q = "?limit=2&filter=" + urllib.parse.quote("home/+/temp", safe="") + (
            "&after=" + urllib.parse.quote(after, safe="") if after else "")
        j = json.loads(http("GET", secured.url + "/api/v1/retained" + q, token=TOKEN)[2])
        topics += [(m["topic"], m["payload"]) for m in j["retained"]]
        after = j["next"]
        if not after:
            break
    assert topics == [(f"home/room{i}/temp", f"{20 + i}") for i in range(5)]
    _stop(a, b)


def _scrape(url):
    status, headers, body = http("GET", url + "/metrics", token=TOKEN)
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return body.decode()


def _sum(text, family):
    return sum(float(v) for v in re.findall(rf"^{re.escape(family)}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def _sys_values(port, topics, timeout=5):
    """The next $SYS publication of each topic (sys_interval is 1 s), read over MQTT."""
    c = _paho(port, f"sys-reader-{time.monotonic_ns()}", username="bob", password="builder")
    fresh = queue.Queue()
    # Not the retained value sent on SUBSCRIBE (it may be a second old): the next publication.
    c.on_message = lambda cl, u, m: None if m.retain else fresh.put((m.topic, m.payload))
    for t in topics:
        _sub(c, t)
    values = {}
    deadline = time.monotonic() + timeout
    while len(values) < len(topics) and time.monotonic() < deadline:
        try:
            t, v = fresh.get(timeout=0.5)
            values[t] = float(v)
        except queue.Empty:
            pass
    _stop(c)
    assert len(values) == len(topics), values
    return values


def test_metrics_pass_promtool_and_agree_with_sys(secured):
    sub = _paho(secured.mqtt_port, "m-sub", username="bob", password="builder")
    _sub(sub, "m/#", 2)
    pub = _paho(secured.mqtt_port, "m-pub", username="bob", password="builder")
    for i in range(30):
        pub.publish("m/t", f"{i}", qos=i % 3).wait_for_publish(5)
    for _ in range(30):
        sub.got.get(timeout=5)
    text = _scrape(secured.url)
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    for family in ("musqratt_clients_connected", "musqratt_connections_accepted_total", "musqratt_sessions",
                   "musqratt_subscriptions", "musqratt_topics", "musqratt_retained_messages",
                   "musqratt_messages_received_total", "musqratt_messages_sent_total",
                   "musqratt_received_bytes_total", "musqratt_sent_bytes_total", "musqratt_messages_dropped_total",
                   "musqratt_queued_messages", "musqratt_held_messages", "musqratt_worker_busy_seconds_total"):
        assert f"# TYPE {family} " in text, family
    for qos in range(3):
        assert re.search(rf'^musqratt_messages_received_total{{qos="{qos}"}} 10$', text, re.M), qos
        assert re.search(rf'^musqratt_messages_sent_total{{qos="{qos}"}} 10$', text, re.M), qos
    assert _sum(text, "musqratt_worker_busy_seconds_total") > 0
    # With the clients' traffic over, a $SYS publication and a scrape right after it agree.
    # ($SYS messages the reader receives count as sent in both, so sent is compared as "at
    # least": the scrape comes after the reader got them.)
    values = _sys_values(secured.mqtt_port, ["$SYS/broker/messages/received", "$SYS/broker/messages/sent",
                                             "$SYS/broker/clients/total", "$SYS/broker/retained/count"])
    text = _scrape(secured.url)
    assert values["$SYS/broker/messages/received"] == _sum(text, "musqratt_messages_received_total") == 30
    assert _sum(text, "musqratt_messages_sent_total") >= values["$SYS/broker/messages/sent"] >= 30
    assert values["$SYS/broker/retained/count"] == _sum(text, "musqratt_retained_messages")
    _stop(sub, pub)


def _workers(url):
    status, _, body = http("GET", url + "/metrics")
    assert status == 200
    found = re.findall(r'^musqratt_worker_connections{worker="(\d+)"} (\d+)$', body.decode(), re.M)
    return {int(w): int(n) for w, n in found}


def test_worker_connections_count_every_connection_until_it_closes(web_broker):
    """40 clients connected: the two workers' gauges add up to 41 (the scrape's own connection
    is one more), and fall back to that one once the clients leave."""
    b = web_broker("--threads", "2", "--http-listen", "127.0.0.1:0")
    url = f"http://127.0.0.1:{b.http_port}"
    socks = []
    for i in range(40):
        cid = f"w{i:03d}".encode()
        # MQTT 3.1.1 CONNECT: protocol name and level, clean session, keep-alive 60 s, client id.
        body = struct.pack("!H", 4) + b"MQTT" + bytes([4, 2]) + struct.pack("!H", 60) + struct.pack("!H", len(cid)) + cid
        s = socket.create_connection(("127.0.0.1", b.mqtt_port), timeout=5)
        s.sendall(bytes([0x10, len(body)]) + body)
        socks.append(s)
    for s in socks:
        assert s.recv(4)[:2] == b"\x20\x02"  # CONNACK: served
    per_worker = _workers(url)
    assert sorted(per_worker) == [0, 1]
    assert sum(per_worker.values()) == 41, per_worker
    for s in socks:
        s.close()
    assert wait_for(lambda: sum(_workers(url).values()) == 1, timeout=10), _workers(url)


def test_a_real_prometheus_scrapes_the_broker(secured, tmp_path):
    prometheus = shutil.which("prometheus")
    assert prometheus, "Debian package prometheus is needed (scripts/install-deps.sh)"
    (tmp_path / "token").write_text(TOKEN)
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: musqratt
    authorization:
      credentials_file: {tmp_path / 'token'}
    static_configs:
      - targets: ['127.0.0.1:{secured.http_port}']
""")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        prom_port = s.getsockname()[1]
    clients = [_paho(secured.mqtt_port, f"prom-{i}", username="bob", password="builder") for i in range(3)]
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([prometheus, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{prom_port}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}"], stdout=log, stderr=log)
    try:
        def query(expr):
            q = urllib.parse.urlencode({"query": expr})
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/query?{q}", timeout=2) as r:
                    res = json.loads(r.read())["data"]["result"]
            except OSError:
                return None
            return float(res[0]["value"][1]) if res else None

        wait_for(lambda: query('up{job="musqratt"}') == 1.0, timeout=30, what="prometheus scraping the broker")
        # $SYS says 3 clients are connected while only the 3 test clients are: read it by
        # counting the reader out (it is connected while it reads).
        sys_connected = _sys_values(secured.mqtt_port, ["$SYS/broker/clients/connected"])
        assert sys_connected["$SYS/broker/clients/connected"] - 1 == 3.0, sys_connected
        wait_for(lambda: query("musqratt_clients_connected") == 3.0, timeout=15,
                 what="musqratt_clients_connected == 3 in prometheus")
        wait_for(lambda: query("musqratt_connections_accepted_total") == 4.0, timeout=15,
                 what="connections accepted (3 clients and the $SYS reader) in prometheus")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        _stop(*clients)


def test_persistence_commit_latency_and_readiness(web_broker, tmp_path):
    b = web_broker("--http-listen", "127.0.0.1:0", "--persistence", "true", "--persistence-dir", str(tmp_path / "data"))
    url = f"http://127.0.0.1:{b.http_port}"
    status, _, body = http("GET", url + "/readyz")
    assert status == 200 and json.loads(body) == {"ready": True, "checks": {"listeners": True, "store": True}}
    c = _paho(b.mqtt_port, "durable", clean=False)
    _sub(c, "d/#", 1)
    for i in range(20):
        c.publish("d/x", f"{i}", qos=1).wait_for_publish(5)  # acknowledged once committed
    for _ in range(20):
        c.got.get(timeout=5)
    text = http("GET", url + "/metrics")[2].decode()
    count = re.search(r"^musqratt_persistence_commit_duration_seconds_count (\d+)$", text, re.M)
    assert count and int(count.group(1)) >= 1, text
    assert re.search(r'^musqratt_persistence_commit_duration_seconds_bucket\{le="\+Inf"\} ' + count.group(1) + "$",
                     text, re.M)
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    _stop(c)


def test_bridge_state_and_backlog_in_metrics(web_broker, tmp_path):
    """A bridge whose upstream is not there: /metrics says it is not connected and counts what
    waits for it, as $SYS does."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    conf = tmp_path / "bridge.toml"
    conf.write_text('http_listen = "127.0.0.1:0"\n\n'
                    '[[bridge]]\nname = "cloud"\n'
                    f'address = "127.0.0.1:{dead_port}"\n'
                    'reconnect_min_ms = 100\nreconnect_max_ms = 200\n'
                    'topics = [ { filter = "up/#", direction = "out", qos = 1 } ]\n')
    b = web_broker("--config", str(conf))
    url = f"http://127.0.0.1:{b.http_port}"
    c = _paho(b.mqtt_port, "sensor", clean=True)
    for i in range(3):
        c.publish("up/t", f"{i}", qos=1).wait_for_publish(5)  # in the bridge's buffer once acknowledged

    def metrics():
        return http("GET", url + "/metrics")[2].decode()

    wait_for(lambda: re.search(r'^musqratt_bridge_backlog_messages\{bridge="cloud"\} 3$', metrics(), re.M),
             what="a backlog of 3 for the bridge")
    text = metrics()
    assert re.search(r'^musqratt_bridge_state\{bridge="cloud",state="connected"\} 0$', text, re.M), text
    down = [re.search(r'^musqratt_bridge_state\{bridge="cloud",state="' + st + r'"\} 1$', text, re.M)
            for st in ("connecting", "disconnected")]
    assert any(down), text
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    _stop(c)
