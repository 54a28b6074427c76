// The WebSocket frame codec. Input byte 0 selects the decoder's role, whether text is
// accepted and the piece size the rest is fed in; the decoder must consume all input unless
// it saw a Close or failed, deliver at most the limits, and decode the same events whatever
// the split. Then a round trip: the input, cut into messages, is encoded (masked and
// unmasked, in fragments) and must decode to exactly what was encoded.
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "web/ws_decoder.h"
#include "web/ws_frame.h"

using namespace musqratt::web;

namespace {

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "fuzz_ws_frame: %s\n", what);
  abort();
}

struct Recorder : WsDecoder::Handler {
  std::string events;  // a transcript: message begins, data, ends, control frames
  uint64_t message_bytes = 0;
  uint64_t max_message = 0;
  void on_message_begin(WsOpcode t) override {
    events += "B" + std::to_string(static_cast<int>(t));
    message_bytes = 0;
  }
  void on_message_data(std::span<const uint8_t> d) override {
    message_bytes += d.size();
    if (message_bytes > max_message) fail("message over its limit delivered");
    events.append(reinterpret_cast<const char*>(d.data()), d.size());
  }
  void on_message_end() override { events += "E"; }
  void on_control(WsOpcode op, std::span<const uint8_t> p) override {
    if (p.size() > kWsMaxControlPayload) fail("control payload over 125 bytes");
    events += "C" + std::to_string(static_cast<int>(op)) + ":";
    events.append(reinterpret_cast<const char*>(p.data()), p.size());
  }
};

struct Outcome {
  bool ok = true;
  WsCloseCode code{};
  size_t consumed = 0;
  std::string events;
};

Outcome run(const WsDecoder::Options& o, std::span<const uint8_t> in, size_t piece) {
  WsDecoder d(o);
  Recorder rec;
  rec.max_message = o.max_message_size;
  Outcome out;
  for (size_t pos = 0; pos < in.size(); pos += piece) {
    auto chunk = in.subspan(pos, std::min(piece, in.size() - pos));
    auto r = d.feed(chunk, rec);
    if (!r) {
      out.ok = false;
      out.code = r.error().code;
      break;
    }
    out.consumed += *r;
    if (*r != chunk.size() && !d.close_received()) fail("input left unconsumed without a Close");
    if (d.close_received()) break;
  }
  // Events before an error can differ by a chunk (text is checked a chunk at a time).
  out.events = out.ok ? rec.events : std::string();
  return out;
}

void round_trip(std::span<const uint8_t> in, bool mask, size_t frag) {
  // Messages: the input cut at every 0xFF byte; each sent as binary in fragments of `frag`.
  std::vector<std::string> messages(1);
  for (uint8_t b : in) {
    if (b == 0xFF) messages.emplace_back();
    else messages.back().push_back(static_cast<char>(b));
  }
  std::string wire;
  const WsMaskKey key{static_cast<uint8_t>(frag), 0x5a, static_cast<uint8_t>(in.size()), 0xc3};
  std::optional<WsMaskKey> k;
  if (mask) k = key;
  for (const std::string& m : messages) {
    if (m.size() < kWsMaxControlPayload && m.size() % 3 == 0) append_ws_frame(wire, WsOpcode::Ping, m, true, k);
    size_t pos = 0;
    bool first = true;
    do {
      const size_t n = std::min(frag, m.size() - pos);
      const bool last = pos + n == m.size();
      append_ws_frame(wire, first ? WsOpcode::Binary : WsOpcode::Continuation,
                      std::string_view(m).substr(pos, n), last, k);
      first = false;
      pos += n;
    } while (pos < m.size());
  }
  append_ws_close(wire, WsCloseCode::Normal, "end", k);
  WsDecoder d({.role = mask ? WsDecoder::Role::Server : WsDecoder::Role::Client});
  Recorder rec;
  rec.max_message = UINT64_MAX;
  auto r = d.feed(std::span(reinterpret_cast<const uint8_t*>(wire.data()), wire.size()), rec);
  if (!r || *r != wire.size() || !d.close_received()) fail("round trip did not decode");
  std::string expect;
  for (const std::string& m : messages) {
    if (m.size() < kWsMaxControlPayload && m.size() % 3 == 0) expect += "C9:" + m;
    expect += "B2" + m + "E";
  }
  expect += std::string("C8:\x03\xe8", 5) + "end";
  if (rec.events != expect) fail("round trip decoded to something else");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t sel = data[0];
  // Long inputs add nothing a limit of 64 bytes does not reach, and byte-wise feeding makes
  // them slow.
  std::span<const uint8_t> in(data + 1, std::min<size_t>(size - 1, 8192));
  WsDecoder::Options o;
  o.role = (sel & 1) ? WsDecoder::Role::Client : WsDecoder::Role::Server;
  o.accept_text = (sel & 2) != 0;
  o.max_message_size = (sel & 4) ? 64 : 1 << 20;
  o.max_frame_payload = (sel & 8) ? 32 : o.max_message_size;
  const size_t piece = 1 + (sel >> 4) * 7;

  const Outcome whole = run(o, in, in.size() ? in.size() : 1);
  const Outcome pieces = run(o, in, piece);
  if (whole.ok != pieces.ok) fail("success depends on how the input is split");
  if (whole.ok && (whole.consumed != pieces.consumed || whole.events != pieces.events))
    fail("decoding depends on how the input is split");
  if (!whole.ok && pieces.code != whole.code) fail("error code depends on the split");

  round_trip(in, (sel & 1) == 0, 1 + (sel >> 4));
  return 0;
}
