// Feeds the input as the byte stream of one client (in pseudo-random chunks) into a
// SessionDriver on a Broker with small limits. A second, well-behaved MQTT 5 handler is
// subscribed to '#' and acknowledges what it receives, so routing, queues and in-flight windows
// are exercised; everything the broker sends it must decode. When the fuzzed connection closes,
// the rest of the input is a new connection (session resumption, takeover). No leaks, no crashes.
#include <memory>
#include <random>
#include <set>

#include "broker/session_driver.h"
#include "util/log.h"

using namespace musqratt;
namespace pr = musqratt::protocol;

namespace {

struct FakeWaker : broker::Waker {
  std::set<uint64_t> woken;
  void wake(uint64_t token) override { woken.insert(token); }
};

void feed(broker::SessionDriver& h, const std::string& bytes, util::TimePoint now) {
  h.on_bytes({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, now);
}

// Decodes the observer's output (must be valid MQTT 5) and acknowledges QoS 1/2 deliveries.
void serve_observer(broker::SessionDriver& obs, util::TimePoint now) {
  for (int round = 0; round < 8 && !obs.pending_output().empty(); ++round) {
    std::string_view out = obs.pending_output();
    std::string replies;
    auto bytes = std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size());
    for (size_t pos = 0; pos < bytes.size();) {
      pr::FrameHeader h;
      if (pr::read_frame_header(bytes.subspan(pos), h) != pr::FrameStatus::Complete ||
          h.total_size() > bytes.size() - pos)
        abort();  // the broker wrote a partial or malformed packet
      auto p = pr::decode_packet(h.first_byte, bytes.subspan(pos + h.header_size, h.remaining_length), pr::Version::V5);
      if (!p) abort();  // the broker sent something a MQTT 5 client cannot decode
      pr::Ack a;
      if (auto* pub = std::get_if<pr::Publish>(&*p); pub && pub->qos > 0) {
        a.type = pub->qos == 1 ? pr::PacketType::Puback : pr::PacketType::Pubrec;
        a.packet_id = pub->packet_id;
        pr::encode_packet(a, pr::Version::V5, replies);
      } else if (auto* ack = std::get_if<pr::Ack>(&*p); ack && ack->type == pr::PacketType::Pubrel) {
        a.type = pr::PacketType::Pubcomp;
        a.packet_id = ack->packet_id;
        pr::encode_packet(a, pr::Version::V5, replies);
      }
      pos += h.total_size();
    }
    obs.consume_output(out.size());
    feed(obs, replies, now);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  util::set_log_level(util::LogLevel::Trace);  // exercise the log formatting (run with -close_fd_mask=2)
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  broker::BrokerConfig cfg;
  cfg.max_packet_size = 2048;
  cfg.receive_maximum = 4;
  cfg.max_inflight = 3;
  cfg.topic_alias_maximum = 4;
  cfg.max_queued_messages = 8;
  cfg.max_queued_bytes = 4096;
  cfg.max_subscriptions_per_client = 6;
  cfg.max_topic_levels = 6;
  cfg.max_topic_length = 100;
  cfg.hold_unsubscribed = {"hold/#"};
  cfg.hold_max_messages_per_topic = 3;
  cfg.hold_max_bytes = 2048;
  cfg.sys_interval = 1;
  broker::Broker b(cfg);
  FakeWaker waker;
  util::TimePoint now = util::now();

  broker::SessionDriver obs(b, &waker, 1000, "observer", now);
  pr::Connect c;
  c.version = pr::Version::V5;
  c.client_id = "observer";
  pr::Subscribe s;
  s.packet_id = 1;
  s.subscriptions = {{"#", {.qos = 2}}, {"$SYS/#", {.qos = 1}}};
  std::string hello;
  pr::encode_packet(c, pr::Version::V5, hello);
  pr::encode_packet(s, pr::Version::V5, hello);
  feed(obs, hello, now);
  serve_observer(obs, now);

  uint32_t seed = 2166136261u;  // FNV-1a of the input picks the chunk sizes
  for (size_t i = 0; i < size; ++i) seed = (seed ^ data[i]) * 16777619u;
  std::minstd_rand rng(seed | 1);
  uint64_t token = 1;
  auto h = std::make_unique<broker::SessionDriver>(b, &waker, token, "fuzz", now);
  for (size_t pos = 0, chunks = 0; pos < size; ++chunks) {
    size_t n = std::min<size_t>(size - pos, 1 + rng() % (rng() % 4 == 0 ? 4 : 300));
    h->on_bytes({data + pos, n}, now);
    pos += n;
    now += util::Millis(rng() % 1500);
    if (chunks % 4 == 3) {
      h->on_tick(now);
      obs.on_tick(now);
      b.housekeeping(now);
    }
    for (int i = 0; i < 4 && !waker.woken.empty(); ++i) {
      auto woken = std::exchange(waker.woken, {});
      if (woken.count(token)) h->on_wake(now);
      if (woken.count(1000)) obs.on_wake(now);
      serve_observer(obs, now);
    }
    h->consume_output(h->pending_output().size());
    h->on_output_drained(now);
    h->consume_output(h->pending_output().size());
    if (h->closing() && token < 4) {  // the rest of the input is a new connection
      h->on_closed(now);
      h = std::make_unique<broker::SessionDriver>(b, &waker, ++token, "fuzz", now);
    } else if (h->closing()) {
      break;
    }
  }
  h->on_shutdown();
  h->on_closed(now);
  obs.on_closed(now);
  b.housekeeping(now + util::Seconds(100000));
  return 0;
}
