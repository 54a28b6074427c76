"""A scripted single-purpose MQTT server for acknowledgements real brokers won't send on
demand (PUBACK/SUBACK failure reason codes, session present) and for observing exactly
what the client put on the wire (protocol level, properties). Not a broker: it routes
nothing."""
import socket
import threading


def _read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_packet(sock):
    header = _read_exact(sock, 1)[0]
    length, shift = 0, 0
    while True:
        b = _read_exact(sock, 1)[0]
        length |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return header, _read_exact(sock, length)


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


class FakeBroker:
    def __init__(self, connack_code=0, session_present=False, suback_code=None, puback_reason=0,
                 pubrec_reason=0):
        self.connack_code = connack_code
        self.session_present = session_present
        self.suback_code = suback_code  # None: grant the requested QoS
        self.puback_reason = puback_reason
        self.pubrec_reason = pubrec_reason
        self.connects = []  # dicts: level, clean, keepalive, client_id, raw
        self.publishes = []  # raw PUBLISH bodies (header, body)
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self._stop = True
        self.server.close()

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, sock):
        level = 4
        try:
            while True:
                header, body = _read_packet(sock)
                kind = header >> 4
                if kind == 1:  # CONNECT
                    name_len = int.from_bytes(body[0:2], "big")
                    level = body[2 + name_len]
                    flags = body[3 + name_len]
                    keepalive = int.from_bytes(body[4 + name_len:6 + name_len], "big")
                    self.connects.append({"level": level, "clean": bool(flags & 2),
                                          "keepalive": keepalive, "raw": body})
                    if level == 5:
                        sock.sendall(bytes([0x20, 3, int(self.session_present), self.connack_code, 0]))
                    else:
                        sock.sendall(bytes([0x20, 2, int(self.session_present), self.connack_code]))
                    if self.connack_code:
                        return
                elif kind == 8:  # SUBSCRIBE
                    mid = body[0:2]
                    requested = body[-1] & 3
                    code = requested if self.suback_code is None else self.suback_code
                    payload = mid + (b"\x00" if level == 5 else b"") + bytes([code])
                    sock.sendall(bytes([0x90]) + _varint(len(payload)) + payload)
                elif kind == 10:  # UNSUBSCRIBE
                    mid = body[0:2]
                    payload = mid + (b"\x00\x00" if level == 5 else b"")
                    sock.sendall(bytes([0xB0]) + _varint(len(payload)) + payload)
                elif kind == 3:  # PUBLISH
                    self.publishes.append((header, body))
                    qos = (header >> 1) & 3
                    if qos:
                        tlen = int.from_bytes(body[0:2], "big")
                        mid = body[2 + tlen:4 + tlen]
                        reason = self.puback_reason if qos == 1 else self.pubrec_reason
                        ack = 0x40 if qos == 1 else 0x50
                        if level == 5:
                            sock.sendall(bytes([ack, 4]) + mid + bytes([reason, 0]))
                        else:
                            sock.sendall(bytes([ack, 2]) + mid)
                elif kind == 6:  # PUBREL
                    mid = body[0:2]
                    sock.sendall(bytes([0x70, 2]) + mid)
                elif kind == 12:  # PINGREQ
                    sock.sendall(b"\xd0\x00")
                elif kind == 14:  # DISCONNECT
                    return
        except (ConnectionError, OSError):
            pass
        finally:
            sock.close()
