// protocol::ConnectionEngine alone, as nghttp2 fuzzes its session: nothing around it is faked.
// The first input byte picks the role and a few behaviours; the rest is the peer's byte
// stream, fed in pseudo-random chunks. As a server the engine accepts every CONNECT (or
// answers later: pause and resume), as a client it starts with a CONNECT and takes what a
// server sends. Handlers answer QoS 1/2 and send publishes back, so output paths (aliases,
// the peer's maximum packet size) run too; ticks advance virtual time (keep-alive, pings).
// Everything the engine writes must frame and decode in its own version.
#include <cstdlib>
#include <random>

#include "protocol/connection_engine.h"

using namespace musqratt;
namespace pr = musqratt::protocol;

namespace {

struct Events : pr::EngineEvents {
  pr::ConnectionEngine* engine = nullptr;
  bool defer_accept = false;
  std::optional<pr::Connect> waiting;

  void on_connect(pr::Connect& c) override {
    if (defer_accept) {
      waiting = c;  // answered after a while: the engine keeps input meanwhile
      return;
    }
    pr::Connack ack;
    engine->accept(c, ack, c.keep_alive);
  }
  void on_publish(pr::Publish& p) override {
    if (p.qos == 1) engine->send_ack(pr::PacketType::Puback, p.packet_id, pr::Reason::Success);
    if (p.qos == 2) engine->send_ack(pr::PacketType::Pubrec, p.packet_id, pr::Reason::Success);
    pr::PublishView v;  // echo it back: outgoing aliases and size checks
    v.topic = p.topic;
    v.payload = p.payload;
    engine->send_publish(v);
  }
  void on_ack(const pr::Ack& a) override {
    if (a.type == pr::PacketType::Pubrel) engine->send_ack(pr::PacketType::Pubcomp, a.packet_id, pr::Reason::Success);
    if (a.type == pr::PacketType::Pubrec) engine->send_ack(pr::PacketType::Pubrel, a.packet_id, pr::Reason::Success);
  }
  void on_subscribe(pr::Subscribe& s) override {
    pr::Suback ack;
    ack.packet_id = s.packet_id;
    ack.reasons.assign(s.subscriptions.size(), pr::Reason::GrantedQos1);
    engine->send(ack);
  }
  void on_unsubscribe(pr::Unsubscribe& u) override {
    pr::Unsuback ack;
    ack.packet_id = u.packet_id;
    ack.reasons.assign(u.filters.size(), pr::Reason::Success);
    engine->send(ack);
  }
  void on_disconnect(const pr::Disconnect&) override {}
  void on_violation(pr::Reason, const char*) override {}
};

/// Everything written must be whole, valid packets of the engine's version.
void check_output(pr::ConnectionEngine& e) {
  std::string_view out = e.pending_output();
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size());
  for (size_t pos = 0; pos < bytes.size();) {
    pr::FrameHeader h;
    if (pr::read_frame_header(bytes.subspan(pos), h) != pr::FrameStatus::Complete || h.total_size() > bytes.size() - pos)
      abort();  // a partial or malformed packet
    auto p = pr::decode_packet(h.first_byte, bytes.subspan(pos + h.header_size, h.remaining_length), e.version());
    if (!p) abort();  // something its peer could not decode
    pos += h.total_size();
  }
  e.consume_output(out.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  ++data;
  --size;
  const pr::Role role = (mode & 1) ? pr::Role::Client : pr::Role::Server;
  pr::ConnectionEngine engine(role);
  engine.set_max_incoming_packet(2048);
  engine.set_incoming_alias_max(4);
  Events ev;
  ev.engine = &engine;
  ev.defer_accept = (mode & 2) != 0;
  util::TimePoint now = util::TimePoint{} + std::chrono::hours(1000);
  if (role == pr::Role::Client) {
    pr::Connect c;
    c.version = (mode & 4) ? pr::Version::V5 : pr::Version::V311;
    c.client_id = "fuzz";
    c.keep_alive = 5;
    engine.start(c, now);
  }
  uint32_t seed = 2166136261u;  // FNV-1a of the input picks the chunk sizes
  for (size_t i = 0; i < size; ++i) seed = (seed ^ data[i]) * 16777619u;
  std::minstd_rand rng(seed | 1);
  for (size_t pos = 0; pos < size && !engine.closing();) {
    size_t n = std::min<size_t>(size - pos, 1 + rng() % 200);
    engine.receive({data + pos, n}, ev, now);
    pos += n;
    now += util::Millis(rng() % 3000);
    if (ev.waiting && rng() % 2 == 0) {
      pr::Connack ack;
      engine.accept(*ev.waiting, ack, ev.waiting->keep_alive);
      ev.waiting.reset();
      engine.resume(ev, now);
    }
    engine.tick(ev, now);
    check_output(engine);
  }
  engine.fail(pr::Reason::ServerShuttingDown, "end of input");
  check_output(engine);
  return 0;
}
