// Parses the input as an HTTP/1.1 request head with small limits (so they are reached), then
// checks what a parse promises: views inside the buffer, a head size within the input, a
// Complete result never over a limit, the same answer for the input cut at the head's end,
// and every strict prefix of a complete head is Incomplete or an Error (never Complete).
// The rest of the input is fed, as a driver would, to an HttpConnection and a WebSocketLayer
// in the pieces byte 0 selects, to reach their state machines too.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>

#include "web/http_connection.h"
#include "web/http_request.h"
#include "web/websocket_layer.h"

using namespace musqratt;
using namespace musqratt::web;

namespace {

[[noreturn]] void fail(const char* what) {
  fprintf(stderr, "fuzz_http_request: %s\n", what);
  abort();
}

bool inside(std::string_view v, std::span<const uint8_t> buf) {
  if (v.empty()) return true;
  const auto* p = reinterpret_cast<const uint8_t*>(v.data());
  return p >= buf.data() && p + v.size() <= buf.data() + buf.size();
}

// An Endpoint above the WebSocket layer that answers what it gets, to exercise framing.
class Echo : public net::Endpoint {
 public:
  void on_bytes(std::span<const uint8_t> d, util::TimePoint) override {
    if (out_.size() < 100000) out_.append(reinterpret_cast<const char*>(d.data()), d.size());
    if (!d.empty() && d[0] == 0xE0) closing_ = true;  // an MQTT DISCONNECT ends it
  }
  std::string_view pending_output() override { return out_; }
  void consume_output(size_t n, util::TimePoint) override { out_.erase(0, n); }
  bool closing() const override { return closing_; }
  void on_wake(util::TimePoint) override {}
  void on_tick(util::TimePoint) override {}
  void on_shutdown() override { closing_ = true; }
  void on_closed(util::TimePoint) override {}

 private:
  std::string out_;
  bool closing_ = false;
};

void drive(net::Endpoint& e, std::span<const uint8_t> in, size_t piece, util::TimePoint now) {
  for (size_t pos = 0; pos < in.size() && !e.closing(); pos += piece) {
    e.on_bytes(in.subspan(pos, std::min(piece, in.size() - pos)), now);
    std::string_view out = e.pending_output();
    e.consume_output(out.size() / 2 + 1 > out.size() ? out.size() : out.size() / 2 + 1, now);
  }
  e.on_tick(now + std::chrono::seconds(11));
  e.on_shutdown();
  while (!e.pending_output().empty()) e.consume_output(e.pending_output().size(), now);
  e.on_closed(now);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t piece = 1 + (data[0] & 0x3F);
  std::span<const uint8_t> in(data + 1, size - 1);
  HttpLimits limits{.max_request_line = 256, .max_header_bytes = 1024, .max_headers = 16, .max_body = 512};
  std::array<HttpHeader, 32> storage;
  HttpRequest req;
  const HttpParseResult r = parse_http_request(in, req, storage, limits);
  if (r.status == HttpParseStatus::Error) {
    if (r.error_status < 400 || r.error_status > 505) fail("error status out of range");
  } else if (r.status == HttpParseStatus::Complete) {
    if (r.head_size == 0 || r.head_size > in.size()) fail("head size outside the input");
    if (r.head_size > limits.max_header_bytes + 64) fail("head over the limit accepted");
    if (req.headers.size() > limits.max_headers) fail("too many headers accepted");
    if (req.content_length > limits.max_body) fail("body over the limit accepted");
    if (!inside(req.method, in) || !inside(req.target, in) || !inside(req.query, in)) fail("view outside the buffer");
    if (req.path != "/" && !inside(req.path, in)) fail("path outside the buffer");
    for (const HttpHeader& h : req.headers)
      if (!inside(h.name, in) || !inside(h.value, in) || h.name.empty()) fail("header view outside the buffer");
    // The same head alone parses the same way.
    HttpRequest again;
    std::array<HttpHeader, 32> storage2;
    const HttpParseResult r2 = parse_http_request(in.first(r.head_size), again, storage2, limits);
    if (r2.status != HttpParseStatus::Complete || r2.head_size != r.head_size || again.method != req.method ||
        again.headers.size() != req.headers.size())
      fail("the head alone parses differently");
    // No strict prefix is complete.
    for (size_t n : {r.head_size - 1, r.head_size / 2}) {
      HttpRequest part;
      if (parse_http_request(in.first(n), part, storage2, limits).status == HttpParseStatus::Complete)
        fail("a strict prefix of a head is complete");
    }
  }

  const util::TimePoint now{};
  HttpConnection conn({.limits = limits}, [](const HttpRequest& q) { return HttpResponse::text(200, q.path); }, now);
  drive(conn, in, piece, now);
  WebSocketOptions wo;
  wo.max_message_size = 4096;
  wo.max_frame_out = 100;
  wo.output_backlog = 300;
  WebSocketLayer ws(wo, [](const WsUpgrade&) { return std::make_unique<Echo>(); }, now,
                    [](const HttpRequest&) { return HttpResponse::text(200); });
  drive(ws, in, piece, now);
  return 0;
}
