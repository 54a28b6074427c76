#!/usr/bin/python3
"""Disk cost of a stored backlog: one offline persistent session receives N QoS 1 messages of
each payload size; the files of the store (database, write-ahead log, shared-memory index) are
sampled while the backlog builds and once it is complete, and reported per stored message.

    bench/store_size.py [--bin build/bin/musqratt] [--count 100000] [--sizes 1024,64]

The publisher keeps --window QoS 1 messages in flight (acknowledged once durable).
"""
import argparse
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time


def varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


class Conn:
    def __init__(self, port, client_id, clean=True, expiry=0):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = bytearray()
        props = b"\x05\x11" + struct.pack("!I", expiry) if expiry else b"\x00"
        body = utf8("MQTT") + bytes([5, 0x02 if clean else 0]) + struct.pack("!H", 0) + props + utf8(client_id)
        self.s.sendall(packet(0x10, body))
        assert self.read()[0] >> 4 == 2

    def read(self):
        while True:
            if len(self.buf) >= 2:
                n, mul, i = 0, 1, 1
                while i < len(self.buf):
                    n += (self.buf[i] & 0x7F) * mul
                    mul *= 128
                    i += 1
                    if not self.buf[i - 1] & 0x80:
                        break
                if len(self.buf) >= i + n:
                    first, body = self.buf[0], bytes(self.buf[i:i + n])
                    del self.buf[:i + n]
                    return first, body
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk


def store_bytes(d):
    """Disk blocks actually used by each store file (st_blocks, so sparse or preallocated
    space is counted as it really is)."""
    out = {}
    for name in os.listdir(d):
        if name.startswith("musqratt.db"):
            out[name] = os.stat(os.path.join(d, name)).st_blocks * 512
    return out


def run(binary, count, size, window):
    work = tempfile.mkdtemp(prefix="musqratt-size-")
    data = os.path.join(work, "data")
    log = open(os.path.join(work, "broker.log"), "wb")
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--log-level", "info", "--sys-interval", "0",
                             "--persistence", "true", "--persistence-dir", data,
                             "--max-queued-messages", str(count * 2)], stdout=log, stderr=log)
    try:
        port = None
        for _ in range(500):
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(log.name).read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.01)
        sub = Conn(port, "size-sub", clean=False, expiry=3600)
        sub.s.sendall(packet(0x82, struct.pack("!H", 1) + varint(0) + utf8("size/#") + b"\x01"))
        assert sub.read()[0] >> 4 == 9
        sub.s.close()
        pub = Conn(port, "size-pub")
        payload = b"x" * size
        peak, peak_at = 0, 0
        sent = acked = 0
        t0 = time.monotonic()
        while acked < count:
            while sent < count and sent - acked < window:
                sent += 1
                pid = (sent - 1) % 65535 + 1
                pub.s.sendall(packet(0x32, utf8("size/t") + struct.pack("!H", pid) + b"\x00" + payload))
            first, _ = pub.read()
            if first >> 4 == 4:
                acked += 1
                if acked % 2000 == 0:
                    total = sum(store_bytes(data).values())
                    if total > peak:
                        peak, peak_at = total, acked
        elapsed = time.monotonic() - t0
        time.sleep(6)  # one garbage collection and checkpoint interval
        files = store_bytes(data)
        total = sum(files.values())
        detail = " ".join(f"{k.replace('musqratt.db', 'db')}={v}" for k, v in sorted(files.items()))
        print(f"payload={size} messages={count} publish_s={elapsed:.1f} {detail} total={total} "
              f"bytes_per_message={total / count:.0f} peak_while_filling={peak} "
              f"(at {peak_at}: {peak / max(peak_at, 1):.0f} per message)", flush=True)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(work)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "musqratt"))
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--sizes", default="1024,64")
    ap.add_argument("--window", type=int, default=200)
    a = ap.parse_args()
    for size in [int(s) for s in a.sizes.split(",")]:
        run(a.bin, a.count, size, a.window)


if __name__ == "__main__":
    sys.exit(main())
