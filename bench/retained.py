#!/usr/bin/python3
"""Retained messages at scale: loads N retained messages into a fresh broker, then measures the
broker's idle CPU (from /proc, over --idle seconds) and the cost of SUBSCRIBE with a filter that
starts with a wildcard but matches few topics (wall time until the last retained message has
arrived, and broker CPU per SUBSCRIBE over --subscribes repetitions).

    bench/retained.py [--bin build/bin/musqratt] [--count 500000] [--expiring 0.1]

Topics are s<i/1000>/d<i%1000>/v (one in --expiring of them with a one-hour Message Expiry
Interval), plus three s<k>/special/v that the filter +/special/# matches.
"""
import argparse
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf("SC_CLK_TCK")


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
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        body = utf8("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 0) + varint(0) + utf8("")
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
                else:
                    i = None
                if i is not None and len(self.buf) >= i + n:
                    first, body = self.buf[0], bytes(self.buf[i:i + n])
                    del self.buf[:i + n]
                    return first, body
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def ping(self):
        self.s.sendall(b"\xc0\x00")
        while self.read()[0] >> 4 != 13:
            pass


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "musqratt"))
    ap.add_argument("--count", type=int, default=500000)
    ap.add_argument("--expiring", type=float, default=0.1)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--subscribes", type=int, default=200)
    a = ap.parse_args()

    log = tempfile.NamedTemporaryFile(prefix="musqratt-retained-", suffix=".log", delete=False)
    proc = subprocess.Popen([a.bin, "--listen", "127.0.0.1:0", "--log-level", "info", "--threads", "2",
                             "--sys-interval", "0"], stdout=log, stderr=log)
    try:
        port = None
        for _ in range(500):
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(log.name).read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.01)
        assert port, "broker did not start"
        pub = Conn(port)
        t0 = time.monotonic()
        every = int(1 / a.expiring) if a.expiring else 0
        batch = bytearray()
        for i in range(a.count):
            props = b"\x05\x02" + struct.pack("!I", 3600) if every and i % every == 0 else b"\x00"
            batch += packet(0x31, utf8(f"s{i // 1000}/d{i % 1000}/v") + props + b"v%d" % i)
            if len(batch) > 1 << 20:
                pub.s.sendall(batch)
                batch.clear()
        for k in (3, 250, 499):
            batch += packet(0x31, utf8(f"s{k}/special/v") + b"\x00" + b"special")
        pub.s.sendall(batch)
        pub.ping()
        load_s = time.monotonic() - t0
        rss = int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{proc.pid}/status").read()).group(1))

        time.sleep(2)
        c0, w0 = cpu_ticks(proc.pid), time.monotonic()
        time.sleep(a.idle)
        idle_pct = 100.0 * (cpu_ticks(proc.pid) - c0) / TICK / (time.monotonic() - w0)

        sub = Conn(port)
        lat = []
        c0 = cpu_ticks(proc.pid)
        for n in range(a.subscribes):
            pid = n % 60000 + 1
            t = time.perf_counter()
            sub.s.sendall(packet(0x82, struct.pack("!H", pid) + varint(0) + utf8("+/special/#") + b"\x00"))
            got = 0
            while got < 3:
                first, _ = sub.read()
                if first >> 4 == 3:
                    got += 1
            lat.append((time.perf_counter() - t) * 1000)
        sub_cpu_ms = 1000.0 * (cpu_ticks(proc.pid) - c0) / TICK / a.subscribes
        print(f"retained={a.count + 3} load_s={load_s:.1f} rss_kb={rss} idle_cpu_pct={idle_pct:.2f} "
              f"subscribe_median_ms={statistics.median(lat):.3f} subscribe_p90_ms={sorted(lat)[len(lat) * 9 // 10]:.3f} "
              f"broker_cpu_per_subscribe_ms={sub_cpu_ms:.3f}")
    finally:
        proc.terminate()
        proc.wait()
        os.unlink(log.name)


if __name__ == "__main__":
    sys.exit(main())
