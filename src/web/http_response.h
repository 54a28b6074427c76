#pragma once
// HTTP/1.1 responses: a value a handler fills in, and its serialisation.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "web/http_request.h"

namespace musqratt::web {

struct HttpResponse {
  uint16_t status = 200;
  std::string content_type;  // omitted when empty
  std::string body;
  /// Further header fields. Content-Length, Connection and Date are written by serialisation.
  std::vector<std::pair<std::string, std::string>> headers;
  /// Close the connection after this response.
  bool close = false;

  /// A response with a plain-text body (the reason phrase when `text` is empty).
  static HttpResponse text(uint16_t status, std::string_view text = {});
  /// A response with an application/json body.
  static HttpResponse json(uint16_t status, std::string body);
  HttpResponse& with_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

/// Answers one request (a router: what /metrics, /api/v1/... are). Called on the connection's
/// worker with the request complete, body included; the views in it are valid during the call.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

/// The reason phrase for `status` ("Unknown" for one not in the table).
std::string_view http_reason(uint16_t status);

/// An IMF-fixdate (RFC 9110 5.6.7) for the Date header, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string http_date(std::chrono::system_clock::time_point t);

/// Appends `r` as HTTP/1.1 to `out`: status line, Date (when `date` is not empty),
/// Content-Type, Content-Length (not for 1xx, 204 and 304), the extra headers, "Connection:
/// close" when `close` (or r.close) and the body unless `head_only` (a HEAD request, which
/// still gets the Content-Length of the body it does not get).
void serialize_response(const HttpResponse& r, bool close, bool head_only, std::string_view date,
                        std::string& out);

}  // namespace musqratt::web
