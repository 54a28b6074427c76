"""MQTT over WebSockets (ws_listen, wss_listen) with real clients, on epoll and io_uring."""
import json
import queue
import ssl
import subprocess
import threading

import paho.mqtt.client as paho
import pytest

import ws_raw
from conftest import NODE, HERE, run_node, tls_args, wait_for


def _paho(port, transport="tcp", client_id=None, protocol=paho.MQTTv311, path="/mqtt", tls_ca=None):
    c = paho.Client(client_id=client_id or "", protocol=protocol, transport=transport,
                    clean_session=True if protocol != paho.MQTTv5 else None)
    if transport == "websockets":
        c.ws_set_options(path=path)
    if tls_ca:
        c.tls_set(ca_certs=str(tls_ca))
    got = queue.Queue()
    connected = threading.Event()
    c.on_message = lambda cl, u, m: got.put((m.topic, m.payload))
    c.on_connect = lambda *a, **k: connected.set()
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    assert connected.wait(5), "no CONNACK"
    c.got = got
    return c


def _sub(c, topic, qos=0):
    done = threading.Event()
    c.on_subscribe = lambda *a, **k: done.set()
    c.subscribe(topic, qos)
    assert done.wait(5), "no SUBACK"


def _stop(*clients):
    for c in clients:
        c.disconnect()
        c.loop_stop()


def _ws_broker(web_broker, transport, *extra):
    return web_broker("--transport", transport, "--ws-listen", "127.0.0.1:0", *extra)


def test_paho_websocket_and_tcp_clients_exchange_messages(web_broker, transport):
    b = _ws_broker(web_broker, transport)
    ws_sub = _paho(b.ws_port, "websockets", "ws-sub")
    tcp_sub = _paho(b.mqtt_port, "tcp", "tcp-sub")
    _sub(ws_sub, "x/from-tcp", 1)
    _sub(tcp_sub, "x/from-ws", 1)
    ws_pub = _paho(b.ws_port, "websockets", "ws-pub", protocol=paho.MQTTv5)
    tcp_pub = _paho(b.mqtt_port, "tcp", "tcp-pub")
    for i in range(20):
        tcp_pub.publish("x/from-tcp", f"t{i}", qos=1)
        ws_pub.publish("x/from-ws", f"w{i}", qos=1)
    big = bytes(range(256)) * 800  # 204 800 bytes: many WebSocket frames and TCP segments
    tcp_pub.publish("x/from-tcp", big, qos=1)
    ws_pub.publish("x/from-ws", big, qos=1)
    for c, prefix in ((ws_sub, "t"), (tcp_sub, "w")):
        got = [c.got.get(timeout=5)[1] for _ in range(21)]
        assert got[:20] == [f"{prefix}{i}".encode() for i in range(20)]
        assert got[20] == big
    _stop(ws_sub, tcp_sub, ws_pub, tcp_pub)


def test_subprotocols_negotiated_per_rfc6455(web_broker, transport):
    b = _ws_broker(web_broker, transport)
    for offered, chosen in ((("mqtt",), "mqtt"), (("mqttv3.1",), "mqttv3.1"), (("chat", "mqtt"), "mqtt"),
                            (("mqttv3.1", "mqtt"), "mqttv3.1"), ((), None)):
        c = ws_raw.WsClient(b.ws_port, protocols=offered)
        assert c.status == 101, offered
        assert c.headers.get("sec-websocket-protocol") == chosen, offered
        c.close()
    c = ws_raw.WsClient(b.ws_port, protocols=("chat", "superchat"))
    assert c.status == 400 and c.closed()


def test_frames_fragments_batches_ping_and_close(web_broker, transport):
    b = _ws_broker(web_broker, transport)
    c = ws_raw.WsClient(b.ws_port)
    assert c.status == 101
    # CONNECT split over a fragmented message: first fragment, continuation, final continuation.
    connect = ws_raw.connect_packet("raw-1")
    c.send_frame(0x2, connect[:3], fin=False)
    c.send_frame(0x0, connect[3:9], fin=False)
    c.send_frame(0x0, connect[9:], fin=True)
    assert c.recv_mqtt()[0] == 2  # CONNACK
    # Several packets in one frame: SUBSCRIBE, PUBLISH to that subscription, PINGREQ.
    c.send_frame(0x2, ws_raw.subscribe_packet(1, "raw/t") + ws_raw.publish_packet("raw/t", b"hello") + ws_raw.PINGREQ)
    got = [c.recv_mqtt() for _ in range(3)]
    assert got[0][0] == 9  # SUBACK
    # The PUBLISH is routed through the session queue, so PINGRESP may come before it.
    assert sorted(k for k, _ in got[1:]) == [3, 13]
    assert [body for k, body in got if k == 3][0].endswith(b"hello")
    # A packet split across two messages.
    p = ws_raw.publish_packet("raw/t", b"split")
    c.send_frame(0x2, p[:4])
    c.send_frame(0x2, p[4:])
    kind, body = c.recv_mqtt()
    assert kind == 3 and body.endswith(b"split")
    # Ping in the middle of a fragmented message: answered with the same payload.
    c.send_frame(0x2, p[:5], fin=False)
    c.send_frame(0x9, b"are you there")
    assert c.recv_frame() == (True, 0xA, b"are you there")
    c.send_frame(0x0, p[5:])
    assert c.recv_mqtt()[0] == 3
    # Close handshake: our Close 1000 is answered with Close 1000, then the server closes.
    c.send_frame(0x8, b"\x03\xe8bye")
    fin, op, payload = c.recv_frame()
    assert op == 0x8 and payload[:2] == b"\x03\xe8"
    assert c.closed()
    b.wait_log(r"client 'raw-1' disconnected")


def test_unmasked_client_frames_are_refused(web_broker, transport):
    b = _ws_broker(web_broker, transport)
    c = ws_raw.WsClient(b.ws_port)
    c.send_frame(0x2, ws_raw.connect_packet("unmasked"), mask=False)
    fin, op, payload = c.recv_frame()
    assert op == 0x8 and payload[:2] == (1002).to_bytes(2, "big")
    assert c.closed()


def test_frames_over_max_packet_size_are_refused(web_broker, transport):
    b = _ws_broker(web_broker, transport, "--max-packet-size", "1000")
    c = ws_raw.WsClient(b.ws_port)
    c.send_frame(0x2, ws_raw.connect_packet("big"))
    assert c.recv_mqtt()[0] == 2
    c.send_frame(0x2, b"", length_override=5000)  # the header alone says too much
    fin, op, payload = c.recv_frame()
    assert op == 0x8 and payload[:2] == (1009).to_bytes(2, "big")
    assert c.closed()
    ok = _paho(b.ws_port, "websockets", "small-enough")  # others carry on
    _stop(ok)


def test_bad_handshakes_get_their_status_while_others_carry_on(web_broker, transport):
    b = _ws_broker(web_broker, transport)
    sub = _paho(b.ws_port, "websockets", "steady-sub")
    _sub(sub, "steady/t")
    pub = _paho(b.mqtt_port, "tcp", "steady-pub")
    cases = [
        ("GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 404),
        ("POST /mqtt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405),
        ("GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", 426),
        ("GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426),
        ("GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n", 400),
        ("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", 400),  # MQTT bytes on the WebSocket port
    ]
    import socket
    for i, (request, status) in enumerate(cases):
        with socket.create_connection(("127.0.0.1", b.ws_port), timeout=5) as s:
            s.sendall(request.encode("latin-1"))
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break  # the server closes after its answer
                data += chunk
            assert data.startswith(f"HTTP/1.1 {status} ".encode()), (request, data[:80])
        pub.publish("steady/t", f"still {i}")
        assert sub.got.get(timeout=5)[1] == f"still {i}".encode()
    _stop(sub, pub)


def test_mqttjs_in_node_over_ws_and_wss(web_broker, transport, pki, node_deps):
    b = _ws_broker(web_broker, transport, "--wss-listen", "127.0.0.1:0", *tls_args(pki))
    for version in (4, 5):
        r = run_node("mqtt_node.js", {"mode": "echo", "url": f"ws://127.0.0.1:{b.ws_port}/mqtt", "version": version,
                                      "topic": f"node/{version}", "count": 200, "qos": 1, "large": 150000})
        assert r["received"][:200] == [f"m{i}" for i in range(200)] and r["received"][200] == "<150000 bytes>"
    r = run_node("mqtt_node.js", {"mode": "echo", "url": f"wss://localhost:{b.wss_port}/mqtt", "version": 5,
                                  "topic": "node/tls", "count": 50, "qos": 0, "ca": str(pki / "ca.crt")})
    assert r["received"] == [f"m{i}" for i in range(50)]


def test_mqttjs_websocket_subscriber_gets_tcp_publishers_messages(web_broker, transport, node_deps):
    b = _ws_broker(web_broker, transport)
    import os
    proc = subprocess.Popen([NODE, str(HERE / "mqtt_node.js")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=HERE, env=dict(os.environ, NODE_PATH=str(HERE / "node_modules")))
    try:
        proc.stdin.write(json.dumps({"mode": "subscribe", "url": f"ws://127.0.0.1:{b.ws_port}/mqtt", "version": 5,
                                     "topic": "cross/#", "count": 30, "qos": 1}))
        proc.stdin.close()
        assert json.loads(proc.stdout.readline()) == {"ready": True}
        pub = _paho(b.mqtt_port, "tcp", "cross-pub")
        for i in range(30):
            pub.publish(f"cross/{i % 3}", f"m{i}", qos=1)
        out = json.loads(proc.stdout.readline())
        assert out["received"] == [f"m{i}" for i in range(30)]
        _stop(pub)
    finally:
        proc.kill()
        proc.wait()
    # And the other way: MQTT.js publishes over WebSocket, paho receives over TCP.
    sub = _paho(b.mqtt_port, "tcp", "cross-sub")
    _sub(sub, "back/t", 1)
    run_node("mqtt_node.js", {"mode": "publish", "url": f"ws://127.0.0.1:{b.ws_port}/mqtt", "version": 4,
                              "topic": "back/t", "count": 25, "qos": 1})
    assert [sub.got.get(timeout=5)[1] for _ in range(25)] == [f"m{i}".encode() for i in range(25)]
    _stop(sub)


def test_paho_over_wss(web_broker, transport, pki):
    b = _ws_broker(web_broker, transport, "--wss-listen", "127.0.0.1:0", *tls_args(pki))
    sub = _paho(b.wss_port, "websockets", "wss-sub", tls_ca=pki / "ca.crt")
    _sub(sub, "secure/#", 1)
    pub = _paho(b.mqtt_port, "tcp", "wss-pub")
    pub.publish("secure/a", "over tls", qos=1)
    assert sub.got.get(timeout=5) == ("secure/a", b"over tls")
    _stop(sub, pub)


def test_status_page_on_the_websocket_listener(web_broker, transport):
    b = _ws_broker(web_broker, transport)
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{b.ws_port}/", timeout=5) as r:
        assert r.status == 200 and b"<html" in r.read().lower()
    with urllib.request.urlopen(f"http://127.0.0.1:{b.ws_port}/status/mqtt.min.js", timeout=5) as r:
        assert r.status == 200 and len(r.read()) > 10000


def test_bench_websocket_mode_delivers_everything(web_broker, transport):
    """musqratt-bench --websocket (bench/websocket.sh's client) against the WebSocket listener."""
    import os
    from conftest import REPO_ROOT
    bench = os.environ.get("MUSQRATT_BENCH_BIN") or str(REPO_ROOT / "build" / "bin" / "musqratt-bench")
    # Unlimited queues, as every bench script runs the broker (bench/broker_configs.sh): this
    # stream is unpaced, and with the default max_queued_messages (10 000) the broker rightly
    # drops QoS 0 messages for a subscriber that falls that far behind on a loaded machine.
    b = _ws_broker(web_broker, transport, "--max-queued-messages", "0", "--max-queued-bytes", "0")
    for qos in (0, 1):
        r = subprocess.run([bench, "--port", str(b.ws_port), "--websocket", "/mqtt", "--scenario", "p2p", "--pairs", "2",
                            "--qos", str(qos), "--count", "20000", "--json", "--no-progress", "--expect-no-loss"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["delivered"] == out["expected"] == 40000 and out["lost"] == 0 and out["out_of_order"] == 0
