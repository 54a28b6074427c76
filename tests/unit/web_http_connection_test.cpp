// One HTTP/1.1 connection (src/web/http_connection.h) and the authentication functions
// (src/web/http_auth.h).
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "web/base64.h"
#include "web/http_auth.h"
#include "web/http_connection.h"

namespace musqratt::web {
namespace {

using namespace std::chrono_literals;

std::span<const uint8_t> span_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

struct Harness {
  util::TimePoint t0 = util::TimePoint{} + 1000s;
  std::vector<std::string> seen;  // "METHOD path body" per handled request
  std::string identity;           // peer_identity of the last request
  HttpConnection conn;
  std::string wire;

  explicit Harness(HttpConnectionOptions o = {})
      : conn(std::move(o),
             [this](const HttpRequest& r) {
               seen.push_back(std::string(r.method) + " " + std::string(r.path) + " " + std::string(r.body));
               identity = r.peer_identity;
               if (r.path == "/boom") throw std::runtime_error("handler bug");
               if (r.path == "/bye") {
                 HttpResponse resp = HttpResponse::text(200, "bye\n");
                 resp.close = true;
                 return resp;
               }
               return HttpResponse::text(r.path == "/missing" ? 404 : 200, "you asked for " + std::string(r.path) + "\n");
             },
             t0) {}
  void send(std::string_view s, util::TimePoint t) { conn.on_bytes(span_of(s), t); }
  void send(std::string_view s) { send(s, t0); }
  std::string take() {
    std::string out(conn.pending_output());
    conn.consume_output(out.size(), t0);
    wire += out;
    return out;
  }
};

size_t count(const std::string& hay, std::string_view needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

TEST(HttpConnection, AnswersAndKeepsTheConnection) {
  Harness h;
  h.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = h.take();
  EXPECT_TRUE(out.starts_with("HTTP/1.1 200 OK\r\n")) << out;
  EXPECT_NE(out.find("\r\nContent-Length: 23\r\n"), std::string::npos);
  EXPECT_NE(out.find("\r\nDate: "), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\nyou asked for /healthz\n"));
  EXPECT_EQ(out.find("Connection: close"), std::string::npos);
  EXPECT_FALSE(h.conn.closing());
  h.send("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(h.take().find("/readyz"), std::string::npos);
  EXPECT_EQ(h.conn.requests_served(), 2u);
}

TEST(HttpConnection, PipelinedRequestsAreAnsweredInOrder) {
  Harness h;
  h.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /c HTTP/1.1\r\nHo");
  h.send("st: x\r\n\r\n");
  const std::string out = h.take();
  ASSERT_EQ(h.seen, (std::vector<std::string>{"GET /a ", "POST /b hello", "GET /c "}));
  EXPECT_LT(out.find("/a"), out.find("/b"));
  EXPECT_LT(out.find("/b"), out.find("/c"));
  EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 3u);
}

TEST(HttpConnection, BodyArrivingInPiecesAnd100Continue) {
  Harness h;
  h.send("PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 6\r\n\r\n");
  EXPECT_EQ(h.take(), "HTTP/1.1 100 Continue\r\n\r\n");
  h.send("abc");
  EXPECT_EQ(h.take(), "");
  h.send("def");
  EXPECT_EQ(h.seen, std::vector<std::string>{"PUT /x abcdef"});
  EXPECT_TRUE(h.take().starts_with("HTTP/1.1 200 OK\r\n"));
  Harness e;
  e.send("PUT /x HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 6\r\n\r\n");
  EXPECT_TRUE(e.take().starts_with("HTTP/1.1 417 "));
  EXPECT_TRUE(e.conn.closing());
}

TEST(HttpConnection, HeadGetsTheLengthButNoBody) {
  Harness h;
  h.send("HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = h.take();
  EXPECT_NE(out.find("Content-Length: 20\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST(HttpConnection, ConnectionCloseHttp10AndHandlerClose) {
  for (const char* req : {"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: x\r\n\r\n",
                          "GET / HTTP/1.0\r\n\r\n", "GET /bye HTTP/1.1\r\nHost: x\r\n\r\n"}) {
    Harness h;
    h.send(req);
    const std::string out = h.take();
    EXPECT_EQ(count(out, "HTTP/1.1 200"), 1u) << req;
    EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos) << req;
    EXPECT_TRUE(h.conn.closing());
    EXPECT_EQ(h.seen.size(), 1u);
  }
  Harness k;
  k.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  k.take();
  EXPECT_FALSE(k.conn.closing());
}

TEST(HttpConnection, MalformedRequestsAreAnsweredAndClosed) {
  struct Case {
    std::string req;
    const char* status;
  };
  for (const Case& c : {Case{"GET / HTTP/1.1\r\n\r\n", "400"}, Case{"GET / HTTP/3.0\r\nHost: x\r\n\r\n", "505"},
                        Case{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "501"},
                        Case{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", "413"},
                        Case{"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n", "414"},
                        Case{"GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(17000, 'a'), "431"}}) {
    Harness h;
    h.send(c.req);
    const std::string out = h.take();
    EXPECT_TRUE(out.starts_with(std::string("HTTP/1.1 ") + c.status)) << out.substr(0, 40);
    EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(h.conn.closing());
    EXPECT_TRUE(h.seen.empty());
    h.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");  // nothing more is read
    EXPECT_TRUE(h.take().empty());
  }
}

TEST(HttpConnection, AHandlerExceptionIs500AndTheConnectionGoesOn) {
  Harness h;
  h.send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = h.take();
  EXPECT_TRUE(out.starts_with("HTTP/1.1 500 Internal Server Error\r\n"));
  EXPECT_NE(out.find("you asked for /after"), std::string::npos);
}

TEST(HttpConnection, SlowRequestsAreCutOffAndIdleConnectionsClosed) {
  Harness h;
  h.send("GET / HTTP/1.1\r\n", h.t0);
  h.send("Host: x\r\n", h.t0 + 5s);  // slowloris: a line now and then
  h.conn.on_tick(h.t0 + 9s);
  EXPECT_FALSE(h.conn.closing());
  h.conn.on_tick(h.t0 + 10s);
  EXPECT_TRUE(h.conn.closing());
  EXPECT_TRUE(h.take().starts_with("HTTP/1.1 408 Request Timeout\r\n"));

  Harness idle;
  idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n", idle.t0 + 1s);
  idle.take();
  idle.conn.on_tick(idle.t0 + 60s);
  EXPECT_FALSE(idle.conn.closing());
  idle.conn.on_tick(idle.t0 + 61s);
  EXPECT_TRUE(idle.conn.closing());
  EXPECT_TRUE(idle.take().empty());  // closed without a word
}

TEST(HttpConnection, PipelinedRequestsWaitWhileResponsesAreNotRead) {
  HttpConnectionOptions o;
  o.output_backlog = 100;
  Harness h(o);
  std::string many;
  for (int i = 0; i < 10; ++i) many += "GET /r" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  h.send(many);
  EXPECT_LT(h.seen.size(), 10u);  // held back by the unread responses
  const size_t first = h.seen.size();
  EXPECT_GE(first, 1u);
  for (int i = 0; i < 20 && h.seen.size() < 10; ++i) h.take();
  EXPECT_EQ(h.seen.size(), 10u);
  h.take();
  EXPECT_EQ(count(h.wire, "HTTP/1.1 200"), 10u);
}

TEST(HttpConnection, HandlersSeeThePeerIdentity) {
  Harness h;
  h.conn.on_peer_identity("ops-cert");
  h.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(h.identity, "ops-cert");
}

TEST(HttpConnection, ShutdownCloses) {
  Harness h;
  h.conn.on_shutdown();
  EXPECT_TRUE(h.conn.closing());
}

TEST(HttpAuth, ParsesBasicAndBearer) {
  auto b = parse_basic_auth("Basic " + base64_encode(std::string_view("alice:pa:ss word")));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->user, "alice");
  EXPECT_EQ(b->password, "pa:ss word");
  EXPECT_TRUE(parse_basic_auth("basic  " + base64_encode(std::string_view("a:"))));
  EXPECT_FALSE(parse_basic_auth("Basic " + base64_encode(std::string_view("nocolon"))));
  EXPECT_FALSE(parse_basic_auth("Basic not-base64!"));
  EXPECT_FALSE(parse_basic_auth("Basic"));
  EXPECT_FALSE(parse_basic_auth("Bearer abc"));
  EXPECT_EQ(parse_bearer_auth("Bearer abc.DEF-_~+/=="), "abc.DEF-_~+/==");
  EXPECT_EQ(parse_bearer_auth("bearer t0ken"), "t0ken");
  EXPECT_FALSE(parse_bearer_auth("Bearer a b"));
  EXPECT_FALSE(parse_bearer_auth("Bearer =="));
  EXPECT_FALSE(parse_bearer_auth("Bearer"));
  EXPECT_FALSE(parse_bearer_auth("Basic abc"));
}

TEST(HttpAuth, AuthorizeAnswers401Or403) {
  auto check = [](const HttpCredentials& c) {
    if (c.basic && c.basic->user == "admin" && c.basic->password == "secret") return AuthDecision::Allowed;
    if (c.bearer && *c.bearer == "tok") return AuthDecision::Allowed;
    if (c.basic && c.basic->user == "bob" && c.basic->password == "pw") return AuthDecision::Forbidden;
    return AuthDecision::Unauthenticated;
  };
  auto run = [&](std::string auth) -> std::optional<HttpResponse> {
    std::string text = "GET /metrics HTTP/1.1\r\nHost: x\r\n" + (auth.empty() ? "" : "Authorization: " + auth + "\r\n") + "\r\n";
    HttpRequest req;
    std::array<HttpHeader, 8> storage;
    EXPECT_EQ(parse_http_request(span_of(text), req, storage, {}).status, HttpParseStatus::Complete);
    return authorize(req, check);
  };
  EXPECT_FALSE(run("Basic " + base64_encode(std::string_view("admin:secret"))));
  EXPECT_FALSE(run("Bearer tok"));
  auto none = run("");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  bool challenge = false;
  for (const auto& [n, v] : none->headers) challenge = challenge || (n == "WWW-Authenticate" && v.starts_with("Basic realm="));
  EXPECT_TRUE(challenge);
  EXPECT_EQ(run("Basic " + base64_encode(std::string_view("admin:wrong")))->status, 401);
  EXPECT_EQ(run("Bearer nope")->status, 401);
  EXPECT_EQ(run("Digest x")->status, 401);
  EXPECT_EQ(run("Basic " + base64_encode(std::string_view("bob:pw")))->status, 403);
}

}  // namespace
}  // namespace musqratt::web
