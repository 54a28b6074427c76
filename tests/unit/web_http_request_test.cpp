// HTTP/1.1 request head parsing (src/web/http_request.h).
#include <gtest/gtest.h>

#include <array>
#include <string>

#include "web/http_request.h"

namespace musqratt::web {
namespace {

struct Parsed {
  HttpParseResult r;
  HttpRequest req;
  std::array<HttpHeader, 64> storage;
};

// Keeps the request text alive next to the views into it.
struct Fixture {
  std::string text;
  Parsed p;
  explicit Fixture(std::string t, const HttpLimits& limits = {}) : text(std::move(t)) {
    p.r = parse_http_request(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), p.req,
                             p.storage, limits);
  }
};

TEST(HttpRequest, ParsesARequestHead) {
  Fixture f("GET /api/v1/clients?page=2&size=10 HTTP/1.1\r\nHost: example\r\nX-Thing:  a value \t\r\n\r\nrest");
  ASSERT_EQ(f.p.r.status, HttpParseStatus::Complete);
  EXPECT_EQ(f.p.r.head_size, f.text.size() - 4);
  EXPECT_EQ(f.p.req.method, "GET");
  EXPECT_EQ(f.p.req.target, "/api/v1/clients?page=2&size=10");
  EXPECT_EQ(f.p.req.path, "/api/v1/clients");
  EXPECT_EQ(f.p.req.query, "page=2&size=10");
  EXPECT_EQ(f.p.req.version_minor, 1);
  ASSERT_EQ(f.p.req.headers.size(), 2u);
  EXPECT_EQ(f.p.req.header("host"), "example");
  EXPECT_EQ(f.p.req.header("X-THING"), "a value");
  EXPECT_FALSE(f.p.req.header("Missing"));
  EXPECT_TRUE(f.p.req.keep_alive());
}

TEST(HttpRequest, ViewsPointIntoTheCallersBuffer) {
  Fixture f("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(f.p.r.status, HttpParseStatus::Complete);
  EXPECT_GE(f.p.req.method.data(), f.text.data());
  EXPECT_LT(f.p.req.headers[0].value.data(), f.text.data() + f.text.size());
}

TEST(HttpRequest, EveryPrefixIsIncompleteAndTheWholeIsComplete) {
  const std::string text = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
  for (size_t n = 0; n < text.size(); ++n) {
    Fixture f(text.substr(0, n));
    EXPECT_EQ(f.p.r.status, HttpParseStatus::Incomplete) << n;
  }
  Fixture f(text);
  ASSERT_EQ(f.p.r.status, HttpParseStatus::Complete);
  EXPECT_EQ(f.p.req.content_length, 3u);
}

TEST(HttpRequest, AcceptsBareLfAndSkipsLeadingEmptyLines) {
  Fixture f("\r\n\nGET / HTTP/1.1\nHost: h\n\n");
  ASSERT_EQ(f.p.r.status, HttpParseStatus::Complete);
  EXPECT_EQ(f.p.req.path, "/");
  EXPECT_EQ(f.p.r.head_size, f.text.size());
}

TEST(HttpRequest, AbsoluteAndAsteriskForms) {
  Fixture a("GET http://host:8080/metrics?x=1 HTTP/1.1\r\nHost: host\r\n\r\n");
  ASSERT_EQ(a.p.r.status, HttpParseStatus::Complete);
  EXPECT_EQ(a.p.req.path, "/metrics");
  EXPECT_EQ(a.p.req.query, "x=1");
  Fixture b("GET HTTPS://host HTTP/1.1\r\nHost: host\r\n\r\n");
  ASSERT_EQ(b.p.r.status, HttpParseStatus::Complete);
  EXPECT_EQ(b.p.req.path, "/");
  Fixture c("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(c.p.r.status, HttpParseStatus::Complete);
  EXPECT_EQ(c.p.req.path, "*");
  EXPECT_EQ(Fixture("GET * HTTP/1.1\r\nHost: h\r\n\r\n").p.r.error_status, 400);
  EXPECT_EQ(Fixture("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n").p.r.error_status, 400);
  EXPECT_EQ(Fixture("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n").p.r.error_status, 400);
}

TEST(HttpRequest, Http10NeedsNoHostAndClosesByDefault) {
  Fixture f("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(f.p.r.status, HttpParseStatus::Complete);
  EXPECT_EQ(f.p.req.version_minor, 0);
  EXPECT_FALSE(f.p.req.keep_alive());
  Fixture k("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  EXPECT_TRUE(k.p.req.keep_alive());
  Fixture c("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n");
  EXPECT_FALSE(c.p.req.keep_alive());
}

TEST(HttpRequest, TokenListsAreCaseInsensitiveAndTrimmed) {
  Fixture f("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n");
  ASSERT_EQ(f.p.r.status, HttpParseStatus::Complete);
  EXPECT_TRUE(f.p.req.header_has_token("connection", "upgrade"));
  EXPECT_TRUE(f.p.req.header_has_token("Upgrade", "websocket"));
  EXPECT_FALSE(f.p.req.header_has_token("Connection", "close"));
  EXPECT_FALSE(f.p.req.header_has_token("Connection", "keep"));
}

struct Bad {
  const char* text;
  uint16_t status;
};

class HttpRequestRejects : public ::testing::TestWithParam<Bad> {};

TEST_P(HttpRequestRejects, WithTheRightStatus) {
  Fixture f(GetParam().text);
  EXPECT_EQ(f.p.r.status, HttpParseStatus::Error) << GetParam().text;
  EXPECT_EQ(f.p.r.error_status, GetParam().status) << f.p.r.error;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HttpRequestRejects,
    ::testing::Values(
        Bad{"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},                 // not a token
        Bad{" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},                // leading space
        Bad{"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},                // two spaces
        Bad{"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},                // trailing space
        Bad{"GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},            // control byte in target
        Bad{"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},         // non-ASCII target
        Bad{"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
        Bad{"GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505},
        Bad{"GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400},
        Bad{"GET / http/1.1\r\nHost: h\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n", 400},      // space before colon
        Bad{"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n", 400},  // obs-fold
        Bad{"GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", 400},    // control byte in value
        Bad{"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400},      // bare CR
        Bad{"GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400},
        Bad{"GET / HTTP/1.1\r\n\r\n", 400},                            // no Host
        Bad{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},      // two Hosts
        Bad{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        Bad{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
        Bad{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1,1\r\n\r\n", 400},
        Bad{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
        Bad{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n", 413},
        Bad{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        Bad{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400}));

TEST(HttpRequest, RepeatedEqualContentLengthIsOne) {
  Fixture f("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n");
  ASSERT_EQ(f.p.r.status, HttpParseStatus::Complete);
  EXPECT_EQ(f.p.req.content_length, 5u);
}

TEST(HttpRequest, BinaryGarbageIsRefusedWithoutWaitingForALineEnd) {
  // An MQTT CONNECT sent to an HTTP port.
  Fixture f(std::string("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c", 12));
  EXPECT_EQ(f.p.r.status, HttpParseStatus::Error);
  EXPECT_EQ(f.p.r.error_status, 400);
}

TEST(HttpRequest, LimitsAreEnforcedBeforeTheHeadIsComplete) {
  HttpLimits l;
  l.max_request_line = 100;
  l.max_header_bytes = 300;
  l.max_headers = 3;
  // A request line growing without end.
  EXPECT_EQ(Fixture("GET /" + std::string(200, 'a'), l).p.r.error_status, 414);
  EXPECT_EQ(Fixture("GET /" + std::string(200, 'a') + " HTTP/1.1\r\n", l).p.r.error_status, 414);
  // A head growing without end, with no blank line yet.
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(400, 'x');
  EXPECT_EQ(Fixture(many, l).p.r.error_status, 431);
  // Too many fields.
  EXPECT_EQ(Fixture("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", l).p.r.error_status, 431);
  EXPECT_EQ(Fixture("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n", l).p.r.status, HttpParseStatus::Complete);
  // The caller's storage bounds the count too.
  std::string text = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n";
  HttpRequest req;
  std::array<HttpHeader, 1> one;
  auto r = parse_http_request(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), req, one, {});
  EXPECT_EQ(r.error_status, 431);
}

TEST(HttpRequest, TooManyEmptyLinesBeforeTheRequest) {
  EXPECT_EQ(Fixture(std::string(100, '\n') + "GET / HTTP/1.1\r\nHost: h\r\n\r\n").p.r.error_status, 400);
}

}  // namespace
}  // namespace musqratt::web
