// The WebSocket opening handshake (src/web/ws_handshake.h) and base64.
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "web/base64.h"
#include "web/http_request.h"
#include "web/ws_handshake.h"

namespace musqratt::web {
namespace {

// The sample handshake of RFC 6455 section 1.3.
constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr const char* kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

struct Req {
  std::string text;
  HttpRequest req;
  std::array<HttpHeader, 64> storage;
  explicit Req(std::string t) : text(std::move(t)) {
    auto r = parse_http_request(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), req,
                                storage, {});
    EXPECT_EQ(r.status, HttpParseStatus::Complete) << r.error;
  }
};

std::string upgrade(std::string extra = "Sec-WebSocket-Protocol: mqtt\r\n", std::string path = "/mqtt",
                    std::string key = kKey, std::string version = "13") {
  return "GET " + path + " HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: " + version + "\r\n" +
         extra + "\r\n";
}

bool has_header(const HttpResponse& r, std::string_view name, std::string_view value) {
  for (const auto& [n, v] : r.headers)
    if (iequals(n, name) && v == value) return true;
  return false;
}

TEST(Base64, RoundTripsAndRefusesNonCanonicalText) {
  EXPECT_EQ(base64_encode(std::string_view("")), "");
  EXPECT_EQ(base64_encode(std::string_view("f")), "Zg==");
  EXPECT_EQ(base64_encode(std::string_view("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(std::string_view("foobar")), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(base64_decode("Zg=="), "f");
  EXPECT_EQ(base64_decode(""), "");
  EXPECT_FALSE(base64_decode("Zg="));     // length
  EXPECT_FALSE(base64_decode("Zh=="));    // unused bits set
  EXPECT_FALSE(base64_decode("Z=g="));    // padding inside
  EXPECT_FALSE(base64_decode("Zg==Zg==")); // padding before the end
  EXPECT_FALSE(base64_decode("Zm9v YmFy"));
  EXPECT_FALSE(base64_decode("Zm9-"));
}

TEST(WsHandshake, AcceptKeyOfTheRfcSample) { EXPECT_EQ(ws_accept_key(kKey), kAccept); }

TEST(WsHandshake, AcceptsAValidUpgradeAndNegotiatesMqtt) {
  Req r(upgrade("Sec-WebSocket-Protocol: chat, mqtt\r\nOrigin: http://example.com\r\n"));
  auto u = check_ws_upgrade(r.req, WsHandshakeConfig{});
  ASSERT_TRUE(u) << u.error().body;
  EXPECT_EQ(u->subprotocol, "mqtt");
  EXPECT_EQ(u->accept, kAccept);
  EXPECT_EQ(u->origin, "http://example.com");
  std::string out;
  append_ws_accept_response(*u, out);
  EXPECT_EQ(out, std::string("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: ") + kAccept + "\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n");
}

TEST(WsHandshake, OldClientsGetMqttv31AndTheClientsOrderWins) {
  Req a(upgrade("Sec-WebSocket-Protocol: mqttv3.1\r\n"));
  EXPECT_EQ(check_ws_upgrade(a.req, {})->subprotocol, "mqttv3.1");
  Req b(upgrade("Sec-WebSocket-Protocol: mqttv3.1, mqtt\r\n"));
  EXPECT_EQ(check_ws_upgrade(b.req, {})->subprotocol, "mqttv3.1");
  // Offers may be split over several header lines.
  Req c(upgrade("Sec-WebSocket-Protocol: wamp\r\nSec-WebSocket-Protocol: mqtt\r\n"));
  EXPECT_EQ(check_ws_upgrade(c.req, {})->subprotocol, "mqtt");
  // Subprotocol names are case-sensitive.
  Req d(upgrade("Sec-WebSocket-Protocol: MQTT\r\n"));
  EXPECT_EQ(check_ws_upgrade(d.req, {}).error().status, 400);
}

TEST(WsHandshake, NoSubprotocolOfferedIsAcceptedUnlessRequired) {
  Req r(upgrade(""));
  auto u = check_ws_upgrade(r.req, {});
  ASSERT_TRUE(u);
  EXPECT_EQ(u->subprotocol, "");
  std::string out;
  append_ws_accept_response(*u, out);
  EXPECT_EQ(out.find("Sec-WebSocket-Protocol"), std::string::npos);
  WsHandshakeConfig strict;
  strict.require_subprotocol = true;
  EXPECT_EQ(check_ws_upgrade(r.req, strict).error().status, 400);
}

TEST(WsHandshake, TokenListsInUpgradeAndConnection) {
  Req r("GET /mqtt HTTP/1.1\r\nHost: h\r\nUpgrade: foo/2, WebSocket\r\nConnection: keep-alive, upgrade\r\n"
        "Sec-WebSocket-Key: " + std::string(kKey) + "\r\nSec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_TRUE(check_ws_upgrade(r.req, {}));
  EXPECT_TRUE(is_ws_upgrade_request(r.req));
}

TEST(WsHandshake, ConfiguredPath) {
  WsHandshakeConfig cfg;
  cfg.path = "/ws";
  Req r(upgrade("", "/ws?token=1"));
  EXPECT_TRUE(check_ws_upgrade(r.req, cfg));
  Req other(upgrade("", "/mqtt"));
  EXPECT_EQ(check_ws_upgrade(other.req, cfg).error().status, 404);
}

TEST(WsHandshake, BadHandshakesGetTheRightErrorAndClose) {
  auto status = [](const std::string& text) {
    Req r(text);
    auto u = check_ws_upgrade(r.req, {});
    EXPECT_FALSE(u);
    if (u) return uint16_t{0};
    EXPECT_TRUE(u.error().close);
    return u.error().status;
  };
  EXPECT_EQ(status(upgrade("", "/other")), 404);
  std::string post = upgrade("");
  post.replace(0, 3, "PUT");
  EXPECT_EQ(status(post), 405);
  std::string http10 = upgrade("");
  http10.replace(http10.find("HTTP/1.1"), 8, "HTTP/1.0");
  EXPECT_EQ(status(http10), 400);
  EXPECT_EQ(status(upgrade("", "/mqtt", "dGhlIHNhbXBsZSBub25jZQ")), 400);  // not base64
  EXPECT_EQ(status(upgrade("", "/mqtt", "c2hvcnQ=")), 400);                // not 16 bytes
  EXPECT_EQ(status(upgrade("", "/mqtt", "")), 400);
  EXPECT_EQ(status(upgrade("Sec-WebSocket-Protocol: chat\r\n")), 400);
  EXPECT_EQ(status(upgrade("Content-Length: 3\r\n")), 400);
  // A plain GET of the WebSocket path: 426 naming the upgrade.
  Req plain("GET /mqtt HTTP/1.1\r\nHost: h\r\n\r\n");
  auto p = check_ws_upgrade(plain.req, {});
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().status, 426);
  EXPECT_TRUE(has_header(p.error(), "Upgrade", "websocket"));
  // Another version: 426 with the one we speak (RFC 6455 4.4).
  Req v8(upgrade("", "/mqtt", kKey, "8"));
  auto e = check_ws_upgrade(v8.req, {});
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().status, 426);
  EXPECT_TRUE(has_header(e.error(), "Sec-WebSocket-Version", "13"));
}

TEST(WsHandshake, AllowedOrigins) {
  WsHandshakeConfig cfg;
  cfg.allowed_origins = {"https://ops.example"};
  Req good(upgrade("Origin: https://ops.example\r\n"));
  EXPECT_TRUE(check_ws_upgrade(good.req, cfg));
  Req bad(upgrade("Origin: https://evil.example\r\n"));
  EXPECT_EQ(check_ws_upgrade(bad.req, cfg).error().status, 403);
  Req none(upgrade(""));  // not a browser: no Origin to check
  EXPECT_TRUE(check_ws_upgrade(none.req, cfg));
}

}  // namespace
}  // namespace musqratt::web
