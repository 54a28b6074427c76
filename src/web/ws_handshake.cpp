#include "web/ws_handshake.h"

#include <openssl/sha.h>

#include "web/base64.h"

namespace musqratt::web {
namespace {

HttpResponse refuse(uint16_t status, std::string_view why) {
  HttpResponse r = HttpResponse::text(status, std::string(why) + "\n");
  r.close = true;
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string ws_accept_key(std::string_view key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string s(key);
  s += kGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  return base64_encode(std::span<const uint8_t>(digest, sizeof digest));
}

bool is_ws_upgrade_request(const HttpRequest& req) { return req.header_has_token("Upgrade", "websocket"); }

std::expected<WsUpgrade, HttpResponse> check_ws_upgrade(const HttpRequest& req, const WsHandshakeConfig& cfg) {
  if (req.path != cfg.path) return std::unexpected(refuse(404, "Not Found"));
  if (req.method != "GET") {
    HttpResponse r = refuse(405, "a WebSocket is opened with GET");
    r.with_header("Allow", "GET");
    return std::unexpected(r);
  }
  // "The method of the request MUST be GET, and the HTTP version MUST be at least 1.1."
  if (req.version_minor < 1) return std::unexpected(refuse(400, "a WebSocket needs HTTP/1.1"));
  if (!req.header("Host")) return std::unexpected(refuse(400, "no Host"));
  if (req.content_length > 0) return std::unexpected(refuse(400, "an upgrade request has no body"));
  if (!req.header_has_token("Upgrade", "websocket") || !req.header_has_token("Connection", "upgrade")) {
    // A plain GET of the WebSocket path: say what it takes (RFC 9110 15.5.22).
    HttpResponse r = refuse(426, "this path serves WebSocket connections only");
    r.with_header("Upgrade", "websocket");
    return std::unexpected(r);
  }
  auto version = req.header("Sec-WebSocket-Version");
  if (!version || *version != "13") {
    HttpResponse r = refuse(426, "WebSocket version 13 is required");
    r.with_header("Sec-WebSocket-Version", "13");
    return std::unexpected(r);
  }
  auto key = req.header("Sec-WebSocket-Key");
  auto raw = key ? base64_decode(*key) : std::nullopt;
  if (!raw || raw->size() != 16)  // a base64 nonce of 16 bytes (RFC 6455 4.1 item 7)
    return std::unexpected(refuse(400, "bad Sec-WebSocket-Key"));

  WsUpgrade u;
  if (auto origin = req.header("Origin")) u.origin = *origin;
  if (!cfg.allowed_origins.empty() && !u.origin.empty()) {
    bool ok = false;
    for (const std::string& o : cfg.allowed_origins) ok = ok || iequals(o, u.origin);
    if (!ok) return std::unexpected(refuse(403, "origin not allowed"));
  }

  // The client's offers in its order; the first that the server speaks wins (RFC 6455 4.2.2).
  bool offered = false;
  for (const HttpHeader& h : req.headers) {
    if (!iequals(h.name, "Sec-WebSocket-Protocol") || !u.subprotocol.empty()) continue;
    std::string_view v = h.value;
    while (!v.empty() && u.subprotocol.empty()) {
      const size_t comma = v.find(',');
      const std::string_view p = trim(v.substr(0, comma));
      offered = offered || !p.empty();
      for (const std::string& ours : cfg.subprotocols)
        if (p == ours) u.subprotocol = ours;  // subprotocol names are case-sensitive
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  if (u.subprotocol.empty() && (offered || cfg.require_subprotocol)) {
    std::string list;
    for (const std::string& p : cfg.subprotocols) list += (list.empty() ? "" : ", ") + p;
    return std::unexpected(refuse(400, "no supported WebSocket subprotocol (this server speaks: " + list + ")"));
  }
  u.accept = ws_accept_key(*key);
  return u;
}

void append_ws_accept_response(const WsUpgrade& u, std::string& out) {
  out += "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  out += u.accept;
  out += "\r\n";
  if (!u.subprotocol.empty()) {
    out += "Sec-WebSocket-Protocol: ";
    out += u.subprotocol;
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace musqratt::web
