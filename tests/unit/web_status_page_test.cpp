// The embedded status page (src/web/status_page.h).
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "web/status_page.h"

namespace musqratt::web {
namespace {

HttpResponse get(std::string text) {
  HttpRequest req;
  std::array<HttpHeader, 8> storage;
  auto r = parse_http_request(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), req, storage, {});
  EXPECT_EQ(r.status, HttpParseStatus::Complete);
  return status_page_response(req);
}

TEST(StatusPage, ServesTheEmbeddedFilesOrSaysWhyNot) {
  if (status_page_assets().empty()) {
    // Built without npm: the page answers 503 with the reason.
    EXPECT_FALSE(status_page_missing_reason().empty());
    auto r = get("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find(status_page_missing_reason()), std::string::npos);
    return;
  }
  EXPECT_TRUE(status_page_missing_reason().empty());
  auto index = get("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("<html"), std::string::npos);
  // Every script and style the page names is embedded.
  for (const char* path : {"/status/app.js", "/status/rate_chart.js", "/status/style.css", "/status/mqtt.min.js"}) {
    EXPECT_NE(index.body.find(path), std::string::npos) << path;
    auto r = get(std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_FALSE(r.body.empty()) << path;
  }
  auto mqtt = get("GET /status/mqtt.min.js HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(mqtt.content_type, "text/javascript; charset=utf-8");
  EXPECT_GT(mqtt.body.size(), 100000u);  // MQTT.js's browser bundle, from npm
  EXPECT_EQ(get("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n").body, index.body);
  EXPECT_EQ(get("GET /status/nope.js HTTP/1.1\r\nHost: x\r\n\r\n").status, 404);
  EXPECT_EQ(get("POST / HTTP/1.1\r\nHost: x\r\n\r\n").status, 405);
}

}  // namespace
}  // namespace musqratt::web
