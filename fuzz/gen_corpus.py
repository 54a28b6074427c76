#!/usr/bin/env python3
"""Writes the seed corpus in fuzz/corpus/<target>/ (run from anywhere; idempotent).

MQTT packets are built by hand here (no client library), for 3.1, 3.1.1 and 5.0."""
import shutil
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "corpus"


def varint(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack(">H", len(b)) + b


def frame(first, body):
    return bytes([first]) + varint(len(body)) + body


def props(*items):  # items: already-encoded (id + value) byte strings
    body = b"".join(items)
    return varint(len(body)) + body


def u8p(pid, v): return bytes([pid, v])
def u16p(pid, v): return bytes([pid]) + struct.pack(">H", v)
def u32p(pid, v): return bytes([pid]) + struct.pack(">I", v)
def strp(pid, v): return bytes([pid]) + s(v)
def userp(k, v): return bytes([0x26]) + s(k) + s(v)


def connect(level, cid, clean=True, keep=60, will=None, user=None, pw=None, p=b"", wp=b""):
    name = "MQIsdp" if level == 3 else "MQTT"
    flags = (0x02 if clean else 0) | (0x80 if user is not None else 0) | (0x40 if pw is not None else 0)
    if will:
        flags |= 0x04 | (will[2] << 3) | (0x20 if will[3] else 0)
    body = s(name) + bytes([level, flags]) + struct.pack(">H", keep)
    if level == 5:
        body += p or props()
    body += s(cid)
    if will:
        if level == 5:
            body += wp or props()
        body += s(will[0]) + s(will[1])
    if user is not None:
        body += s(user)
    if pw is not None:
        body += s(pw)
    return frame(0x10, body)


def publish(v5, topic, payload, qos=0, pid=1, retain=False, dup=False, p=b""):
    body = s(topic) + (struct.pack(">H", pid) if qos else b"")
    if v5:
        body += p or props()
    return frame(0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0), body + payload)


def ack(kind, pid, v5=False, reason=None, p=b""):
    first = {"puback": 0x40, "pubrec": 0x50, "pubrel": 0x62, "pubcomp": 0x70}[kind]
    body = struct.pack(">H", pid)
    if v5 and (reason is not None or p):
        body += bytes([reason or 0]) + (p or props())
    return frame(first, body)


def subscribe(v5, pid, subs, p=b""):
    body = struct.pack(">H", pid) + ((p or props()) if v5 else b"")
    for f, opts in subs:
        body += s(f) + bytes([opts])
    return frame(0x82, body)


def unsubscribe(v5, pid, filters):
    body = struct.pack(">H", pid) + (props() if v5 else b"")
    return frame(0xA2, body + b"".join(s(f) for f in filters))


PINGREQ = frame(0xC0, b"")


def disconnect(v5, reason=0, p=b""):
    return frame(0xE0, bytes([reason]) + (p or props()) if v5 and (reason or p) else b"")


def session(level):
    v5 = level == 5
    pubp = props(u8p(0x01, 1), u32p(0x02, 30), strp(0x03, "text/plain"), strp(0x08, "reply/t"),
                 strp(0x09, "corr"), userp("k", "v")) if v5 else b""
    return b"".join([
        connect(level, f"seed{level}", will=("will/t", "bye", 1, False), user="u", pw="p",
                p=props(u32p(0x11, 60), u16p(0x21, 10), u32p(0x27, 4096), u16p(0x22, 5), userp("a", "b")) if v5 else b"",
                wp=props(u32p(0x18, 0), u8p(0x01, 0)) if v5 else b""),
        subscribe(v5, 1, [("a/+/c", 1), ("sport/#", 2), ("$share/g/x/#", 0), ("hold/#", 2)],
                  p=props(bytes([0x0B, 7])) if v5 else b""),
        publish(v5, "a/b/c", b"hello", qos=0, p=pubp),
        publish(v5, "sport/tennis", b"qos1", qos=1, pid=2, retain=True),
        publish(v5, "sport/golf", b"qos2", qos=2, pid=3),
        ack("pubrel", 3, v5),
        publish(v5, "hold/x", b"held", qos=1, pid=4),
        *([publish(True, "alias/topic", b"a1", p=props(u16p(0x23, 1))),
           publish(True, "", b"a2", p=props(u16p(0x23, 1)))] if v5 else []),
        ack("puback", 1, v5), ack("pubrec", 2, v5), ack("pubcomp", 3, v5),
        PINGREQ,
        unsubscribe(v5, 5, ["a/+/c", "nothing"]),
        disconnect(v5, 0x04 if v5 else 0, p=props(u32p(0x11, 0)) if v5 else b""),
    ])


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main():
    for t in ("fuzz_decoder", "fuzz_topic", "fuzz_session_driver", "fuzz_config"):
        shutil.rmtree(OUT / t, ignore_errors=True)
    for level in (3, 4, 5):
        stream = session(level)
        write("fuzz_session_driver", f"session-v{level}", stream)
        # fuzz_decoder: byte 0 bit 0 also decodes as 3.1.
        write("fuzz_decoder", f"session-v{level}", bytes([1 if level == 3 else 0]) + stream)
    v5 = True
    write("fuzz_decoder", "server-v311", b"\x00" + frame(0x20, b"\x00\x00") + frame(0x90, b"\x00\x01\x00\x01\x80")
          + frame(0xB0, b"\x00\x02") + frame(0xD0, b""))
    write("fuzz_decoder", "server-v5", b"\x00" + frame(0x20, b"\x01\x00" + props(u16p(0x21, 20), strp(0x12, "id"), u8p(0x24, 1)))
          + frame(0x90, b"\x00\x01" + props(strp(0x1F, "why")) + b"\x00\x01\x8f")
          + frame(0xB0, b"\x00\x02" + props() + b"\x00\x11") + frame(0xF0, b"\x18" + props(strp(0x15, "SCRAM"), strp(0x16, "data")))
          + disconnect(v5, 0x8E, props(strp(0x1C, "other:1883"))))
    write("fuzz_session_driver", "takeover-v5", connect(5, "observer", clean=False)
          + publish(True, "x/y", b"z", qos=1, pid=9) + disconnect(True, 0x04)
          + connect(4, "again", clean=False) + subscribe(False, 1, [("#", 2)]) + publish(False, "q", b"", qos=2, pid=1))
    write("fuzz_session_driver", "bad-first-packet", PINGREQ + connect(4, "late"))

    topics = [("a/+/c", "a/b/c"), ("#", "$SYS/broker/uptime"), ("+/#", "/x"), ("sport/#", "sport"),
              ("$share/group/a/#", "a/b"), ("$share/g+/x", "x"), ("a//+", "a//b"), ("+", ""),
              ("a/#/b", "a/x/b"), ("$SYS/#", "$SYS/x"), ("+/+/+", "a/b"), ("a/b", "a/b")]
    for i, (f, t) in enumerate(topics):
        write("fuzz_topic", f"pair-{i:02d}", f.encode() + b"\0" + t.encode())

    cfg = (HERE.parent / "config" / "musqratt.toml")
    if cfg.exists():
        write("fuzz_config", "example.toml", cfg.read_bytes())
    write("fuzz_config", "small.toml", b'listen = ["127.0.0.1:0", "[::1]:1884"]\nthreads = 2\n'
          b'log_level = "debug"\nmaximum_qos = 1\nretain_available = false\n'
          b'hold_unsubscribed = ["sensors/#", "alerts/+"]\nmax_queued_bytes = 18446744073709551615\n')
    write("fuzz_config", "scalar-list.toml", b'hold_unsubscribed = "x/#"\nlisten = "0.0.0.0:1883"\nmax_inflight = "7"\n')
    write("fuzz_config", "errors.toml", b'maximum_qos = 3\n')
    write("fuzz_config", "unknown.toml", b'[section]\nkey = 1.5\n')
    write("fuzz_config", "types.toml", b'threads = true\nmax_packet_size = -1\ndate = 1979-05-27T07:32:00Z\n')


if __name__ == "__main__":
    main()
