#include "web/http_request.h"

#include <algorithm>
#include <cstring>

namespace musqratt::web {
namespace {

constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// tchar (RFC 9110 5.6.2): the bytes of a method or a header field name.
constexpr bool is_tchar(uint8_t c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}
// A request target byte: visible ASCII; no space, no control, no byte above 0x7E.
constexpr bool is_target_char(uint8_t c) { return c > 0x20 && c < 0x7F; }
// field-vchar / obs-text plus SP and HTAB inside a value (RFC 9110 5.5).
constexpr bool is_value_char(uint8_t c) { return c == '\t' || (c >= 0x20 && c != 0x7F); }

HttpParseResult error(uint16_t status, const char* why) {
  return HttpParseResult{HttpParseStatus::Error, 0, status, why};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits the target into path and query; false if the target has no acceptable form.
bool split_target(std::string_view target, std::string_view method, HttpRequest& out) {
  if (target == "*") {
    if (method != "OPTIONS") return false;  // asterisk-form is for OPTIONS only (RFC 9112 3.2.4)
    out.path = target;
    out.query = {};
    return true;
  }
  std::string_view rest = target;
  if (rest.front() != '/') {
    // absolute-form (RFC 9112 3.2.2): a server MUST accept it. The authority is ignored: the
    // Host header stays the one a handler looks at.
    size_t scheme_end = rest.find("://");
    if (scheme_end == std::string_view::npos) return false;
    std::string_view scheme = rest.substr(0, scheme_end);
    if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
    rest.remove_prefix(scheme_end + 3);
    size_t path_start = rest.find_first_of("/?");
    if (path_start == 0) return false;  // no authority
    rest = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
    if (rest.empty() || rest.front() == '?') {
      // "http://host?q" means path "/" (RFC 9112 3.2.1); keep a view: the query alone.
      out.path = "/";
      out.query = rest.empty() ? std::string_view{} : rest.substr(1);
      return true;
    }
  }
  if (rest.find('#') != std::string_view::npos) return false;  // fragments are not sent
  size_t q = rest.find('?');
  out.path = rest.substr(0, q);
  out.query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
  return true;
}

// Parses "METHOD SP TARGET SP HTTP/1.x".
HttpParseResult parse_request_line(std::string_view line, HttpRequest& out) {
  size_t i = 0;
  while (i < line.size() && is_tchar(static_cast<uint8_t>(line[i]))) ++i;
  if (i == 0 || i >= line.size() || line[i] != ' ') return error(400, "bad method");
  out.method = line.substr(0, i);
  size_t t = ++i;
  while (i < line.size() && is_target_char(static_cast<uint8_t>(line[i]))) ++i;
  if (i == t || i >= line.size() || line[i] != ' ') return error(400, "bad request target");
  out.target = line.substr(t, i - t);
  std::string_view version = line.substr(i + 1);
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
    return error(400, "bad HTTP version");
  if (version[5] != '1') return error(505, "HTTP version not supported");
  // A later 1.x is compatible with 1.1 (RFC 9110 2.5).
  out.version_minor = version[7] == '0' ? 0 : 1;
  if (!split_target(out.target, out.method, out)) return error(400, "bad request target");
  return HttpParseResult{HttpParseStatus::Complete, 0, 0, ""};
}

bool parse_content_length(std::string_view v, size_t& out) {
  if (v.empty() || v.size() > 18) return false;  // 18 digits cannot overflow 64 bits
  size_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<size_t>(c - '0');
  }
  out = n;
  return true;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const HttpHeader& h : headers)
    if (iequals(h.name, name)) return h.value;
  return std::nullopt;
}

bool HttpRequest::header_has_token(std::string_view name, std::string_view token) const {
  for (const HttpHeader& h : headers) {
    if (!iequals(h.name, name)) continue;
    std::string_view v = h.value;
    while (!v.empty()) {
      size_t comma = v.find(',');
      if (iequals(trim(v.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return false;
}

bool HttpRequest::keep_alive() const {
  if (header_has_token("Connection", "close")) return false;
  return version_minor >= 1 || header_has_token("Connection", "keep-alive");
}

HttpParseResult parse_http_request(std::span<const uint8_t> data, HttpRequest& out,
                                   std::span<HttpHeader> header_storage, const HttpLimits& limits) {
  const std::string_view buf(reinterpret_cast<const char*>(data.data()), data.size());
  out = HttpRequest{};
  size_t pos = 0;
  // Empty lines before the request line (a client's stray CRLF after a body) are skipped.
  while (pos < buf.size() && (buf[pos] == '\n' || buf[pos] == '\r')) {
    if (buf[pos] == '\r' && (pos + 1 >= buf.size() || buf[pos + 1] != '\n')) {
      if (pos + 1 >= buf.size()) break;  // a CR at the end: its LF may follow
      return error(400, "bare CR");
    }
    pos += buf[pos] == '\r' ? 2 : 1;
    if (pos > 64) return error(400, "too many empty lines");
  }
  const size_t start = pos;
  size_t nheaders = 0;
  bool have_length = false, have_host = false, have_transfer_encoding = false;
  bool first_line = true;

  while (true) {
    const size_t eol = buf.find('\n', pos);
    if (eol == std::string_view::npos) {
      // Refuse what cannot become a valid head now rather than wait for more: a long line,
      // a large head, or (on the request line) a byte no request line holds, such as the
      // binary of an MQTT packet sent to an HTTP port.
      if (first_line) {
        if (buf.size() - pos > limits.max_request_line + 1) return error(414, "request line too long");
        for (size_t i = pos; i < buf.size(); ++i) {
          const uint8_t c = static_cast<uint8_t>(buf[i]);
          if ((c < 0x20 && c != '\r') || c >= 0x7F) return error(400, "bad request line");
          if (c == '\r' && i + 1 < buf.size()) return error(400, "bare CR");
        }
      }
      if (buf.size() - start > limits.max_header_bytes) return error(431, "request head too large");
      return HttpParseResult{};
    }
    std::string_view line = buf.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = eol + 1;
    if (pos - start > limits.max_header_bytes) return error(431, "request head too large");
    if (line.find('\r') != std::string_view::npos) return error(400, "bare CR");

    if (first_line) {
      if (line.size() > limits.max_request_line) return error(414, "request line too long");
      HttpParseResult r = parse_request_line(line, out);
      if (r.status == HttpParseStatus::Error) return r;
      first_line = false;
      continue;
    }
    if (line.empty()) break;  // end of the head
    if (line.front() == ' ' || line.front() == '\t')
      return error(400, "obsolete line folding");  // RFC 9112 5.2: reject, not unfold
    size_t colon = 0;
    while (colon < line.size() && is_tchar(static_cast<uint8_t>(line[colon]))) ++colon;
    if (colon == 0 || colon >= line.size() || line[colon] != ':')
      return error(400, "bad header name");  // includes whitespace before the colon (RFC 9112 5.1)
    std::string_view value = line.substr(colon + 1);
    for (char c : value)
      if (!is_value_char(static_cast<uint8_t>(c))) return error(400, "control byte in a header value");
    if (nheaders >= header_storage.size() || nheaders >= limits.max_headers)
      return error(431, "too many header fields");
    HttpHeader& h = header_storage[nheaders++];
    h.name = line.substr(0, colon);
    h.value = trim(value);

    if (iequals(h.name, "Content-Length")) {
      size_t n = 0;
      if (!parse_content_length(h.value, n)) return error(400, "bad Content-Length");
      if (have_length && n != out.content_length) return error(400, "conflicting Content-Length");
      have_length = true;
      out.content_length = n;
    } else if (iequals(h.name, "Transfer-Encoding")) {
      have_transfer_encoding = true;
    } else if (iequals(h.name, "Host")) {
      if (have_host) return error(400, "more than one Host");  // RFC 9112 3.2
      have_host = true;
    }
  }

  out.headers = header_storage.subspan(0, nheaders);
  if (have_transfer_encoding) {
    // Both at once is how requests are smuggled past proxies (RFC 9112 6.1).
    if (have_length) return error(400, "Transfer-Encoding with Content-Length");
    return error(501, "Transfer-Encoding not supported");
  }
  if (out.version_minor >= 1 && !have_host) return error(400, "no Host");  // RFC 9112 3.2
  if (out.content_length > limits.max_body) return error(413, "request body too large");
  return HttpParseResult{HttpParseStatus::Complete, pos, 0, ""};
}

}  // namespace musqratt::web
