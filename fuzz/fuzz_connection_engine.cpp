// protocol::ConnectionEngine alone, as nghttp2 fuzzes its session: nothing around it is faked.
// The first input byte picks the role and a few behaviours; the rest is the peer's byte
// stream, fed in pseudo-random chunks. As a server the engine accepts every CONNECT (or
// answers later: pause and resume), as a client it starts with a CONNECT and takes what a
// server sends. Handlers answer QoS 1/2 and send publishes back, so output paths (aliases,
// the peer's maximum packet size, large payloads held and written in runs, a write that stops
// inside them) run too; ticks advance virtual time (keep-alive, pings).
// Everything the engine writes must frame and decode in its own version.
#include <array>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

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
    if (!p.payload.empty() && (p.payload[0] & 1)) {
      // Sent back large (packets in are at most 2 KiB here), so the engine holds the payload
      // and hands it over where it lies.
      std::string big;
      while (big.size() < pr::kSendByReferenceMin) big += p.payload;
      auto owner = std::make_shared<const std::string>(std::move(big));
      v.payload = *owner;
      v.payload_owner = std::move(owner);
    }
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
  // The runs a gathered write gets are the same bytes as the one run a plain write gets, also
  // after a write that stopped inside them.
  std::array<std::string_view, 8> runs;
  std::string out;
  const size_t count = e.output_segments(runs);
  for (size_t i = 0; i < count; ++i) out += runs[i];
  const size_t written = out.size() / 3;
  e.consume_output(written);
  std::string again;  // after a write that stopped inside the runs: the runs from there
  const size_t count_again = e.output_segments(runs);
  for (size_t i = 0; i < count_again; ++i) again += runs[i];
  if (std::string_view(out).substr(written, again.size()) != again.substr(0, out.size() - written)) abort();
  const std::string_view rest = e.pending_output();
  if (rest.substr(0, out.size() - written) != std::string_view(out).substr(written)) abort();
  if (count < runs.size() && rest.size() != out.size() - written) abort();
  out.resize(written);
  out += rest;  // everything since the last check, which consumed all
  e.consume_output(rest.size());
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(out.data()), out.size());
  for (size_t pos = 0; pos < bytes.size();) {
    pr::FrameHeader h;
    if (pr::read_frame_header(bytes.subspan(pos), h) != pr::FrameStatus::Complete || h.total_size() > bytes.size() - pos)
      abort();  // a partial or malformed packet
    auto p = pr::decode_packet(h.first_byte, bytes.subspan(pos + h.header_size, h.remaining_length), e.version());
    if (!p) abort();  // something its peer could not decode
    pos += h.total_size();
  }
  if (e.pending_size() != 0) abort();
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
