"""A deliberately small WebSocket client over a plain socket, for the cases real client
libraries will not produce: fragments where we choose, unmasked frames, oversize frames, bad
handshakes. Plus the few MQTT 3.1.1 packets those tests send."""
import base64
import os
import socket
import struct


class WsClient:
    def __init__(self, port, path="/mqtt", protocols=("mqtt",), headers=None, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.mqtt_buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.status, self.headers = self._read_head()

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed before the handshake answer")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return status, headers

    def send_frame(self, opcode, payload, fin=True, mask=True, length_override=None):
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload) if length_override is None else length_override
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if mask:
            key = os.urandom(4)
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
            head += key
        self.sock.sendall(head + payload)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        """(fin, opcode, payload) of the next server frame (which must not be masked)."""
        b0, b1 = self._need(2)
        assert not b1 & 0x80, "server frames are never masked (RFC 6455 5.1)"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._need(8))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self._need(n)

    def recv_mqtt(self):
        """The next MQTT packet from binary frames (a frame may hold several, or part of one);
        returns (type, body)."""
        data = self.mqtt_buf
        while True:
            if len(data) >= 2:
                mult, length, i = 1, 0, 1
                while i < len(data):
                    length += (data[i] & 0x7F) * mult
                    mult *= 128
                    if not data[i] & 0x80:
                        break
                    i += 1
                if i < len(data) and len(data) >= i + 1 + length:
                    self.mqtt_buf = data[i + 1 + length:]
                    return data[0] >> 4, data[i + 1:i + 1 + length]
            fin, op, payload = self.recv_frame()
            if op == 0x8:
                raise ConnectionError(f"close {payload[:2].hex()}")
            if op in (0x2, 0x0):
                data += payload

    def closed(self):
        """True once the server closed the TCP connection (after whatever it sent)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def rl(n):
    out = b""
    while True:
        d, n = n % 128, n // 128
        out += bytes([d | (0x80 if n else 0)])
        if not n:
            return out


def mstr(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id, keep_alive=60):
    body = mstr("MQTT") + bytes([4, 0x02]) + struct.pack("!H", keep_alive) + mstr(client_id)
    return bytes([0x10]) + rl(len(body)) + body


def subscribe_packet(pid, topic, qos=0):
    body = struct.pack("!H", pid) + mstr(topic) + bytes([qos])
    return bytes([0x82]) + rl(len(body)) + body


def publish_packet(topic, payload, qos=0, pid=1):
    body = mstr(topic) + (struct.pack("!H", pid) if qos else b"") + payload
    return bytes([0x30 | (qos << 1)]) + rl(len(body)) + body


PINGREQ = b"\xc0\x00"
