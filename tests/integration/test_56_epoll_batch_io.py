"""The epoll transport's batched system calls (`epoll_batch_io`, docs/transports.md): a turn's
reads, then its sends, go to the kernel in one io_uring_enter when the kernel allows it; with the
setting off, or without io_uring, one recv and one sendmsg per connection. Both ways every
message arrives once and in order, also when subscribers' sockets fill (sends that would block
inside a batch) and when many connections are readable in the same turn."""
import pytest

from kernel_probe import kernel_allows_io_uring
from mqtt_helpers import PUBACK, RawClient, numbered_publish, receive_numbered, unique_id

pytestmark = pytest.mark.musqratt_only

PAIRS = 6
COUNT = 400
SIZE = 1024


def epoll_broker(broker_factory, batch):
    return broker_factory(extra_args=["--transport", "epoll", "--epoll-batch-io", batch])


def test_turned_off_the_worker_says_so(broker_factory):
    b = epoll_broker(broker_factory, "false")
    b.wait_log(r"worker 0: one recv and one sendmsg per connection per turn \(not batched: epoll_batch_io = false\)")


def test_on_when_the_kernel_allows_it(broker_factory):
    # (On by default: config/musqratt.toml, checked against --print-config by test_26.)
    b = epoll_broker(broker_factory, "true")
    if kernel_allows_io_uring():
        b.wait_log(r"worker 0: a turn's reads and sends each go to the kernel in one io_uring_enter")
        assert "not batched" not in b.log()
    else:
        b.wait_log(r"not batched: io_uring_queue_init: ")


def test_every_worker_has_its_ring_before_the_broker_says_running(broker_factory):
    """Each worker opens its ring on its own thread; "running" comes after all of them, so a
    descriptor count taken then is the idle one (the soak test relies on it)."""
    b = broker_factory(extra_args=["--transport", "epoll", "--epoll-batch-io", "true",
                                   "--threads", "2", "--log-level", "debug"])
    b.wait_log(r"\brunning\b")
    log = b.log()
    running = log.index(" running ")
    for w in (0, 1):
        said = max(log.find(f"worker {w}: a turn's reads"), log.find(f"worker {w}: one recv and one sendmsg"))
        assert 0 <= said < running, f"worker {w} set up after the broker said running:\n{log}"


def slow_subscriber(broker, topic):
    """A subscriber whose small receive window fills long before the broker is done with it."""
    c = RawClient(broker, timeout=30, rcvbuf=8192)
    c.connect(unique_id("sub"))
    c.subscribe(topic, 1)
    return c


@pytest.mark.parametrize("batch", ["true", "false"])
def test_bursts_over_many_pairs_arrive_once_and_in_order(broker_factory, batch):
    b = epoll_broker(broker_factory, batch)
    topics = [unique_id("burst") for _ in range(PAIRS)]
    subs = [slow_subscriber(b, t) for t in topics]
    pubs = []
    for _ in range(PAIRS):
        p = RawClient(b, timeout=30)
        p.connect(unique_id("pub"))
        pubs.append(p)
    # Every publisher's whole burst first: many connections readable in the same turns, and
    # every subscriber's socket full while its messages keep coming.
    for i, p in enumerate(pubs):
        burst = b"".join(numbered_publish(topics[i], n, SIZE) for n in range(COUNT))
        p.send(burst)
    for i, s in enumerate(subs):
        got = receive_numbered(s, COUNT)
        assert got == list(range(COUNT)), f"pair {i}: lost, repeated or reordered"
        s.expect_nothing(0.2)
    for i, p in enumerate(pubs):
        acked = [p.expect(PUBACK, 30).pid for _ in range(COUNT)]
        assert acked == [n + 1 for n in range(COUNT)], f"publisher {i}: acknowledgements"
