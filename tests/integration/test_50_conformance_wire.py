"""Conformance points checked byte for byte on the wire: how a broken 3.1.1 CONNECT ends (no
CONNACK), the reserved first byte of a 3.1 CONNACK, a DISCONNECT the client can read before the
connection closes, and a will that a continuing session's takeover must not publish."""
import socket
import struct
import time

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt_helpers import (CONNACK, DISCONNECT, PUBREC, Client, assert_healthy, RawClient, connect_packet, packet, publish_packet,
                          unique_id, wait_until)


def read_all_until_eof(sock, timeout=3.0):
    """Everything the broker sends until it closes. A reset instead of an orderly close fails
    the test: the client could have lost the last packets the broker sent."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            pytest.fail(f"connection reset by the broker after {data!r}: its last packets may be lost")
        except socket.timeout:
            pytest.fail(f"connection still open after {timeout}s; got {data!r}")
        if not chunk:
            return data
        data += chunk
    pytest.fail(f"connection still open after {timeout}s; got {data!r}")


def raw_connect_bytes(body):
    return packet(1, 0, body)


def enc(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


@pytest.mark.musqratt_only
def test_311_connect_with_reserved_flag_closes_without_connack(broker):
    # [MQTT-3.1.2-3, 3.1.1] reserved flag set -> [MQTT-3.1.4-1, 3.1.1] close, no CONNACK.
    data = bytearray(connect_packet(unique_id(), version=4))
    data[2 + 6 + 1] |= 0x01
    s = socket.create_connection((broker.host, broker.port))
    s.sendall(bytes(data))
    assert read_all_until_eof(s) == b""
    s.close()
    assert_healthy(broker)


@pytest.mark.musqratt_only
def test_311_will_flag_without_will_fields_closes_without_connack(broker):
    # Will flag set, but the payload ends after the client id: no will topic, no will message.
    body = enc("MQTT") + bytes([4, 0x02 | 0x04]) + struct.pack("!H", 30) + enc(unique_id())
    s = socket.create_connection((broker.host, broker.port))
    s.sendall(raw_connect_bytes(body))
    assert read_all_until_eof(s) == b""
    s.close()
    assert_healthy(broker)


@pytest.mark.musqratt_only
def test_311_empty_will_topic_closes_without_connack(broker):
    body = (enc("MQTT") + bytes([4, 0x02 | 0x04]) + struct.pack("!H", 30) + enc(unique_id()) + enc("") +
            enc("bye"))
    s = socket.create_connection((broker.host, broker.port))
    s.sendall(raw_connect_bytes(body))
    assert read_all_until_eof(s) == b""
    s.close()
    assert_healthy(broker)


@pytest.mark.musqratt_only
def test_311_refusal_with_a_return_code_still_gets_connack(broker_factory):
    # A refusal 3.1.1 has a code for (bad user name or password) is still answered.
    b = broker_factory(extra_args=["--allow-anonymous", "false"])
    s = socket.create_connection((b.host, b.port))
    s.sendall(connect_packet(unique_id(), version=4))
    assert read_all_until_eof(s) == bytes([0x20, 0x02, 0x00, 0x05])
    s.close()


def test_31_connack_first_byte_is_reserved_on_resume(broker):
    cid = unique_id()
    first = RawClient(broker, 3)
    first.send(connect_packet(cid, version=3, clean=False))
    first.expect(CONNACK)
    first.disconnect()
    first.close()
    broker.wait_client_gone(cid)
    second = socket.create_connection((broker.host, broker.port))
    second.settimeout(3)
    second.sendall(connect_packet(cid, version=3, clean=False))
    data = b""
    while len(data) < 4:
        chunk = second.recv(4 - len(data))
        assert chunk, "closed before CONNACK"
        data += chunk
    # 3.1: the CONNACK's first variable-header byte is reserved (no session-present flag).
    assert data == bytes([0x20, 0x02, 0x00, 0x00])
    second.close()


def test_311_connack_has_session_present_on_resume(broker):
    cid = unique_id()
    first = RawClient(broker, 4)
    first.send(connect_packet(cid, version=4, clean=False))
    first.expect(CONNACK)
    first.disconnect()
    first.close()
    broker.wait_client_gone(cid)
    second = RawClient(broker, 4)
    second.send(connect_packet(cid, version=4, clean=False))
    ack = second.expect(CONNACK)
    assert ack.session_present


@pytest.mark.musqratt_only
def test_disconnect_reason_is_readable_before_the_close(broker_factory):
    # The client goes on sending after breaking a rule: the broker's DISCONNECT 0x93 must reach
    # it whole, followed by an orderly close, not a reset that discards it.
    b = broker_factory(receive_maximum=2)
    s = socket.create_connection((b.host, b.port))
    s.sendall(connect_packet(unique_id(), version=5))
    s.settimeout(3)
    head = s.recv(2)
    assert head[0] == 0x20
    s.recv(head[1])
    burst = b"".join(publish_packet("rm/t", b"x", qos=2, pid=i, version=5) for i in range(1, 4))
    s.sendall(burst + b"\x00" * 4096)  # and more the broker will not read
    data = read_all_until_eof(s)
    types = []
    pos = 0
    while pos < len(data):  # PUBRECs for the first two, then DISCONNECT (lengths < 128 here)
        types.append((data[pos] >> 4, data[pos + 2] if data[pos] >> 4 == DISCONNECT else None))
        pos += 2 + data[pos + 1]
    assert types == [(PUBREC, None), (PUBREC, None), (DISCONNECT, 0x93)], data  # receive maximum exceeded
    s.close()


def test_will_not_published_when_a_continuing_session_is_taken_over_before_its_delay(broker):
    # [MQTT-3.1.3-9, 5.0]: a new connection to the session before the Will Delay Interval
    # passed: the old connection's will is not sent.
    watcher = Client(broker, version=5)
    watcher.subscribe("wd/#", qos=1)
    cid = unique_id("wd")
    wp = Properties(PacketTypes.WILLMESSAGE)
    wp.WillDelayInterval = 2
    will = {"topic": "wd/will", "payload": b"gone", "props": wp}
    old = Client(broker, client_id=cid, version=5, clean=False, session_expiry=60, will=will)
    new = Client(broker, client_id=cid, version=5, clean=False, session_expiry=60)
    wait_until(lambda: old.disconnected.is_set(), timeout=3, what="old connection told to go")
    time.sleep(3)  # real time: the will delay must pass
    watcher.expect_only_marker(new, "wd/marker")
