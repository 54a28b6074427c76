#pragma once
// HTTP/1.1 request heads, parsed in the manner of picohttpparser: one pure function over the
// caller's buffer that says "need more", "malformed (with the status to answer)" or "complete",
// and whose result is views into that buffer. Nothing is allocated, so a peer cannot make the
// parser hold more than the caller's buffer, which the limits below bound.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace musqratt::web {

struct HttpHeader {
  std::string_view name;   // as sent; compare without case
  std::string_view value;  // without leading and trailing whitespace
};

/// What a request head may cost. A peer exceeding one is answered with the status in
/// HttpParseResult::status and the connection is closed.
struct HttpLimits {
  size_t max_request_line = 8 * 1024;   // method, target and version: 414 beyond
  size_t max_header_bytes = 16 * 1024;  // the whole head, request line included: 431 beyond
  size_t max_headers = 64;              // header fields: 431 beyond (also capped by the storage)
  size_t max_body = 64 * 1024;          // Content-Length accepted: 413 beyond
};

/// A parsed request head. Views into the buffer given to parse_http_request.
struct HttpRequest {
  std::string_view method;  // a token, case-sensitive (RFC 9110 9.1)
  std::string_view target;  // as sent: origin-form, absolute-form or "*"
  std::string_view path;    // target without scheme, authority and query; "*" for asterisk-form
  std::string_view query;   // after '?', without it ("" when absent)
  uint8_t version_minor = 1;  // HTTP/1.x
  std::span<const HttpHeader> headers;
  /// Content-Length (0 when absent); the body follows the head in the buffer.
  size_t content_length = 0;
  /// Set by the caller once the body is there: exactly content_length bytes.
  std::string_view body;
  /// Set by the connection: the peer's name as a layer below authenticated it (a TLS client
  /// certificate), "" when none did.
  std::string_view peer_identity;

  /// The value of the first header named `name` (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
  /// True if any `name` header holds `token` in its comma-separated list (case-insensitive),
  /// as Connection, Upgrade and Sec-WebSocket-Protocol do.
  bool header_has_token(std::string_view name, std::string_view token) const;
  /// HTTP/1.1 keeps the connection unless "Connection: close"; HTTP/1.0 closes unless
  /// "Connection: keep-alive".
  bool keep_alive() const;
};

enum class HttpParseStatus : uint8_t { Complete, Incomplete, Error };

struct HttpParseResult {
  HttpParseStatus status = HttpParseStatus::Incomplete;
  /// Complete: bytes of the head, the blank line included (the body starts there).
  size_t head_size = 0;
  /// Error: the response status (400, 413, 414, 431, 501, 505) and why, for the log.
  uint16_t error_status = 0;
  const char* error = "";
};

/// Parses the request head at the start of `data` into `out`, storing header fields in
/// `header_storage` (out.headers views it). Pure and re-entrant: call again with the same
/// buffer plus more bytes until it is Complete; an Incomplete buffer already over a limit is
/// an Error, so a peer cannot make the caller wait for more. Rejects, with 400 unless said:
/// a request line that is not "METHOD SP TARGET SP HTTP/1.x" (505 for another version), a
/// method that is not a token, a target with control or non-ASCII bytes, whitespace before a
/// header's colon (RFC 9112 5.1), obsolete line folding (RFC 9112 5.2), control bytes in a
/// value, a bare CR, Content-Length that is not digits or two that differ (RFC 9112 6.3),
/// Transfer-Encoding (501: request bodies are small and must say their length; with a
/// Content-Length too it is a smuggling attempt, 400), a body over max_body (413). Lines may
/// end in LF as well as CRLF (RFC 9112 2.2). Leading empty lines are skipped (RFC 9112 2.2).
HttpParseResult parse_http_request(std::span<const uint8_t> data, HttpRequest& out,
                                   std::span<HttpHeader> header_storage, const HttpLimits& limits);

/// True if a and b are equal ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b);

}  // namespace musqratt::web
