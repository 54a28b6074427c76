#include "web/http_connection.h"

#include <exception>

#include "util/log.h"

namespace musqratt::web {

HttpConnection::HttpConnection(HttpConnectionOptions options, HttpHandler handler, util::TimePoint now)
    : opt_(std::move(options)),
      handler_(std::move(handler)),
      header_storage_(opt_.limits.max_headers),
      idle_since_(now) {}

void HttpConnection::on_bytes(std::span<const uint8_t> data, util::TimePoint now) {
  if (closing_ || data.empty()) return;
  if (in_.empty()) request_started_ = now;
  in_.append(reinterpret_cast<const char*>(data.data()), data.size());
  process(now);
  if (!closing_ && in_.size() > opt_.limits.max_header_bytes + opt_.limits.max_body)
    close("pipelined requests while responses are not read");  // only when backlogged
}

void HttpConnection::fail(uint16_t status, std::string reason) {
  HttpResponse r = HttpResponse::text(status);
  serialize_response(r, true, false, http_date(std::chrono::system_clock::now()), out_);
  close("http: " + std::to_string(status) + " " + reason);
}

void HttpConnection::close(std::string reason) {
  if (close_reason_.empty()) close_reason_ = std::move(reason);
  closing_ = true;
  in_.clear();
  request_started_.reset();
}

void HttpConnection::process(util::TimePoint now) {
  while (!closing_ && !in_.empty() && out_.size() - out_pos_ < opt_.output_backlog) {
    HttpRequest req;
    const auto bytes = std::span(reinterpret_cast<const uint8_t*>(in_.data()), in_.size());
    const HttpParseResult r = parse_http_request(bytes, req, header_storage_, opt_.limits);
    if (r.status == HttpParseStatus::Incomplete) return;
    if (r.status == HttpParseStatus::Error) return fail(r.error_status, r.error);
    if (in_.size() - r.head_size < req.content_length) {
      // The body is still coming. A client that waits for "100 Continue" gets it once.
      if (auto expect = req.header("Expect")) {
        if (!iequals(*expect, "100-continue")) return fail(417, "unsupported expectation");
        if (!continue_sent_) out_ += "HTTP/1.1 100 Continue\r\n\r\n";
        continue_sent_ = true;
      }
      return;
    }
    req.body = std::string_view(in_).substr(r.head_size, req.content_length);
    req.peer_identity = peer_identity_;
    HttpResponse resp;
    try {
      resp = handler_(req);
    } catch (const std::exception& e) {
      LOG_WARN("http: handler failed on %.*s %.*s: %s", static_cast<int>(req.method.size()), req.method.data(),
               static_cast<int>(req.path.size()), req.path.data(), e.what());
      resp = HttpResponse::text(500);
    }
    const bool close_after = resp.close || !req.keep_alive();
    serialize_response(resp, close_after, req.method == "HEAD", http_date(std::chrono::system_clock::now()),
                       out_);
    ++served_;
    continue_sent_ = false;
    if (close_after) return close("http: connection: close");
    in_.erase(0, r.head_size + req.content_length);
    request_started_ = in_.empty() ? std::nullopt : std::optional(now);
    idle_since_ = now;
  }
}

void HttpConnection::consume_output(size_t n, util::TimePoint now) {
  out_pos_ = std::min(out_pos_ + n, out_.size());
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  } else if (out_pos_ >= out_.size() / 2) {
    out_.erase(0, out_pos_);
    out_pos_ = 0;
  }
  process(now);  // pipelined requests held back by the backlog
}

void HttpConnection::on_tick(util::TimePoint now) {
  if (closing_) return;
  if (request_started_) {
    if (now - *request_started_ >= opt_.request_timeout) fail(408, "request not complete in time");
  } else if (now - idle_since_ >= opt_.idle_timeout) {
    close("http: idle");
  }
}

void HttpConnection::on_shutdown() { close("server shutting down"); }

void HttpConnection::on_closed(util::TimePoint) {
  closing_ = true;
  in_.clear();
}

}  // namespace musqratt::web
