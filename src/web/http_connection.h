#pragma once
// One HTTP/1.1 connection as an Endpoint: requests in, a handler's responses out, in order.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/endpoint.h"
#include "util/clock.h"
#include "web/http_request.h"
#include "web/http_response.h"

namespace musqratt::web {

struct HttpConnectionOptions {
  HttpLimits limits;
  /// A request must arrive whole, body included, within this from its first byte; a slow one
  /// (slowloris) is answered 408 and closed.
  util::Millis request_timeout{10'000};
  /// A keep-alive connection with no request in progress closes after this.
  util::Millis idle_timeout{60'000};
  /// Pipelined requests wait while this much response waits to be written, so a client that
  /// does not read cannot make the server build responses without end. Beyond this plus a
  /// whole request's worth of unread input, the connection closes.
  size_t output_backlog = 1u << 20;
};

/// Thread: the connection's worker only. Ownership: owns its buffers and the handler (a copy
/// of the router, which must be safe to call from every worker).
///
/// Serves requests in the order they came (pipelining: a request that arrives before the
/// previous answer was written is answered after it), keeps the connection for HTTP/1.1 unless
/// "Connection: close", closes after HTTP/1.0 answers unless "keep-alive". A malformed request
/// is answered (400, 413, 414, 431, 501, 505) and the connection closed. "Expect:
/// 100-continue" gets its interim answer; other expectations 417.
class HttpConnection final : public net::Endpoint {
 public:
  HttpConnection(HttpConnectionOptions options, HttpHandler handler, util::TimePoint now);

  void on_bytes(std::span<const uint8_t> data, util::TimePoint now) override;
  std::string_view pending_output() override { return std::string_view(out_).substr(out_pos_); }
  void consume_output(size_t n, util::TimePoint now) override;
  bool closing() const override { return closing_; }
  std::string_view close_reason() const override { return close_reason_; }
  void on_wake(util::TimePoint) override {}
  void on_tick(util::TimePoint now) override;
  void on_shutdown() override;
  void on_closed(util::TimePoint now) override;
  void on_peer_identity(std::string name) override { peer_identity_ = std::move(name); }

  /// Requests answered so far.
  size_t requests_served() const { return served_; }

 private:
  void process(util::TimePoint now);
  void fail(uint16_t status, std::string reason);
  void close(std::string reason);

  const HttpConnectionOptions opt_;
  HttpHandler handler_;
  std::vector<HttpHeader> header_storage_;
  std::string in_;
  std::string out_;
  size_t out_pos_ = 0;
  std::optional<util::TimePoint> request_started_;  // first byte of the request in progress
  util::TimePoint idle_since_;
  bool continue_sent_ = false;
  bool closing_ = false;
  std::string close_reason_;
  std::string peer_identity_;
  size_t served_ = 0;
};

}  // namespace musqratt::web
