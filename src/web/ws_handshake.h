#pragma once
// The server side of the WebSocket opening handshake (RFC 6455 section 4.2): checks an HTTP
// upgrade request, negotiates the subprotocol and builds the 101 answer, or the HTTP error
// that a bad handshake gets.
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "web/http_request.h"
#include "web/http_response.h"

namespace musqratt::web {

struct WsHandshakeConfig {
  /// The URL path clients upgrade on; others get 404.
  std::string path = "/mqtt";
  /// Subprotocols the server speaks, taken in the client's order of preference. MQTT over
  /// WebSocket is "mqtt" [MQTT-6.0.0-3, 3.1.1 and 5.0]; MQTT 3.1 clients offer "mqttv3.1".
  std::vector<std::string> subprotocols = {"mqtt", "mqttv3.1"};
  /// A client offering subprotocols, none of them ours, is refused (400) rather than answered
  /// without one, which it would have to fail anyway (RFC 6455 4.1). A client offering none is
  /// accepted unless this is set.
  bool require_subprotocol = false;
  /// When not empty, a request with an Origin header not in this list is refused (403): a web
  /// page elsewhere cannot then use a browser's ambient credentials (RFC 6455 10.2).
  std::vector<std::string> allowed_origins;
};

/// A handshake the server accepts.
struct WsUpgrade {
  std::string subprotocol;  // "" when none was offered
  std::string accept;       // Sec-WebSocket-Accept
  std::string origin;       // the Origin header, "" when absent
};

/// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)) (RFC 6455 4.2.2).
std::string ws_accept_key(std::string_view key);

/// Checks `req` as an opening handshake (RFC 6455 4.2.1). On success, what to answer 101
/// with; otherwise the error response (which closes the connection):
/// 404 for another path; 405 for a method other than GET; 400 for HTTP/1.0, a missing Host,
/// a body, a bad or missing Sec-WebSocket-Key, or no acceptable subprotocol; 426 with
/// "Upgrade: websocket" when Upgrade or Connection do not ask for a WebSocket; 426 with
/// "Sec-WebSocket-Version: 13" for another version (RFC 6455 4.4); 403 for a refused Origin.
std::expected<WsUpgrade, HttpResponse> check_ws_upgrade(const HttpRequest& req, const WsHandshakeConfig& cfg);

/// True if `req` asks for a WebSocket at all (an Upgrade header naming "websocket"), so a
/// server sharing a port with plain HTTP knows which way to take it.
bool is_ws_upgrade_request(const HttpRequest& req);

/// Appends the 101 Switching Protocols answer for `u` to `out`.
void append_ws_accept_response(const WsUpgrade& u, std::string& out);

}  // namespace musqratt::web
