"""Send buffers of nearby peers (`local_send_buffer`, docs/transports.md): a connection whose
handshake round trip was under a millisecond (every loopback one) gets that kernel send buffer
instead of the kernel's autotuning, on both kernel transports; 0 leaves autotuning on. A stream of
large messages to a subscriber that stops reading for a while then arrives whole and in order:
what the smaller kernel queue cannot take waits in the broker's own queue."""
import re
import shutil
import subprocess
import time

import pytest

from conftest import MUSQRATT_BIN
from kernel_probe import kernel_allows_io_uring
from mqtt_helpers import PUBACK, RawClient, numbered_publish, receive_numbered, stream_pair, unique_id

pytestmark = [pytest.mark.musqratt_only,
              pytest.mark.skipif(not shutil.which("ss"), reason="needs ss(8) from iproute2")]

COUNT = 600
SIZE = 16 * 1024


def broker_send_buffer(broker, client):
    """The kernel's send buffer (ss: skmem tb) of the broker's end of `client`'s connection."""
    cport = client.sock.getsockname()[1]
    out = subprocess.run(["ss", "-tmnH", "state", "established",
                          f"( sport = :{broker.port} and dport = :{cport} )"],
                         capture_output=True, text=True, check=True, timeout=10).stdout
    m = re.search(r"\btb(\d+)", out)
    assert m, f"no socket of the broker's for port {cport} in: {out!r}"
    return int(m.group(1))


@pytest.mark.parametrize("transport", ["epoll", "io_uring"])
def test_a_loopback_peer_gets_the_configured_send_buffer(broker_factory, transport):
    if transport == "io_uring" and not kernel_allows_io_uring():
        pytest.skip("the kernel refuses io_uring")
    b = broker_factory(extra_args=["--transport", transport, "--local-send-buffer", "65536"])
    c = RawClient(b)
    c.connect(unique_id("near"))
    assert broker_send_buffer(b, c) == 2 * 65536  # the kernel doubles the value it is given


def test_the_default_is_256_kib(broker_factory):
    b = broker_factory()
    c = RawClient(b)
    c.connect(unique_id("near"))
    assert broker_send_buffer(b, c) == 2 * 256 * 1024


def stream_to_a_paused_subscriber(b):
    """Publishes COUNT messages of SIZE at QoS 1 while the subscriber reads nothing for a
    second; returns the subscriber's connection once every message arrived in order."""
    topic, sub, pub = stream_pair(b)
    for n in range(COUNT):
        pub.send(numbered_publish(topic, n, SIZE))
    acked = 0
    while acked < COUNT:  # every message is the broker's now, the subscriber has read none
        assert pub.recv(30).type == PUBACK
        acked += 1
    time.sleep(1.0)
    got = receive_numbered(sub, COUNT)
    assert got == list(range(COUNT)), "lost, repeated or reordered"
    return sub


def test_a_stream_to_a_paused_subscriber_arrives_whole_and_in_order(broker_factory):
    b = broker_factory(extra_args=["--threads", "1"])
    sub = stream_to_a_paused_subscriber(b)
    assert broker_send_buffer(b, sub) == 2 * 256 * 1024  # the cap held through the backlog


def test_zero_leaves_the_kernels_autotuning(broker_factory):
    b = broker_factory(extra_args=["--threads", "1", "--local-send-buffer", "0"])
    sub = stream_to_a_paused_subscriber(b)
    # Autotuning grew the buffer past the cap while the backlog drained.
    assert broker_send_buffer(b, sub) > 2 * 256 * 1024


@pytest.mark.parametrize("value", ["1000", "100000000"])
def test_a_size_out_of_range_is_refused_with_its_name(value):
    r = subprocess.run([MUSQRATT_BIN, "--check-config", "--local-send-buffer", value],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert f"--local-send-buffer: {value} is outside 16384..67108864" in r.stderr + r.stdout
