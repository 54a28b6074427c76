// The HTTP API router against a real Broker driven by session drivers (no sockets): routes,
// authentication before routing, paging, filters, the administrative disconnect, and the
// pieces it is made of (query parameters, bearer tokens).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "handler_fixture.h"
#include "web/api_router.h"
#include "web/base64.h"
#include "web/http_tokens.h"

namespace musqratt::web {
namespace {

using nlohmann::json;
using test::T0;
namespace pr = protocol;
using protocol::Reason;

/// A request parsed from text; owns the storage its views point into.
struct Req {
  explicit Req(std::string text) : text_(std::move(text)) {
    auto r = parse_http_request(std::span(reinterpret_cast<const uint8_t*>(text_.data()), text_.size()), req,
                                headers_, {});
    EXPECT_EQ(r.status, HttpParseStatus::Complete) << text_;
  }
  std::string text_;
  std::array<HttpHeader, 16> headers_;
  HttpRequest req;
};

Req get(std::string target, std::string auth = "", std::string method = "GET") {
  std::string t = method + " " + target + " HTTP/1.1\r\nHost: x\r\n";
  if (!auth.empty()) t += "Authorization: " + auth + "\r\n";
  return Req(t + "\r\n");
}

class ApiRouterTest : public test::HandlerTest {
 protected:
  void SetUp() override { start(); }
  ApiRouter router(AuthCheck auth = {}) {
    ApiOptions o;
    o.auth = std::move(auth);
    o.default_page = 2;
    return ApiRouter(*broker, std::move(o));
  }
  static json body(const HttpResponse& r) { return json::parse(r.body); }
};

TEST_F(ApiRouterTest, ProbesNeedNoCredentialsAndEverythingElseDoes) {
  auto deny = [](const HttpCredentials& c) {
    return c.bearer && *c.bearer == "good" ? AuthDecision::Allowed : AuthDecision::Unauthenticated;
  };
  ApiRouter r = router(deny);
  EXPECT_EQ(r.handle(get("/healthz").req, T0).status, 200);
  EXPECT_EQ(r.handle(get("/readyz").req, T0).status, 200);
  // The same 401 for a resource that exists and for one that does not.
  for (const char* path : {"/metrics", "/api/v1/clients", "/api/v1/clients/x", "/no/such/thing"}) {
    HttpResponse resp = r.handle(get(path).req, T0);
    EXPECT_EQ(resp.status, 401) << path;
    EXPECT_EQ(resp.body.find("exist"), std::string::npos);
    resp = r.handle(get(path, "Bearer bad").req, T0);
    EXPECT_EQ(resp.status, 401) << path;
  }
  EXPECT_EQ(r.handle(get("/metrics", "Bearer good").req, T0).status, 200);
  EXPECT_EQ(r.handle(get("/no/such/thing", "Bearer good").req, T0).status, 404);
}

TEST_F(ApiRouterTest, ReadinessReportsEachCheck) {
  ApiOptions o;
  o.readiness = [] { return Readiness{{{"listeners", true}, {"store", false}}}; };
  ApiRouter r(*broker, o);
  HttpResponse resp = r.handle(get("/readyz").req, T0);
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(body(resp)["checks"]["store"], false);
}

TEST_F(ApiRouterTest, ClientsArePagedInClientIdOrder) {
  for (const char* id : {"c", "a", "e", "b", "d"}) connect(pr::Version::V5, id);
  ApiRouter r = router();
  std::vector<std::string> seen;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    json j = body(r.handle(get("/api/v1/clients" + (after.empty() ? "" : "?after=" + after)).req, T0));
    for (const auto& c : j["clients"]) seen.push_back(c["client_id"]);
    EXPECT_LE(j["clients"].size(), 2u);
    if (j["next"].is_null()) break;
    after = j["next"];
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  json one = body(r.handle(get("/api/v1/clients?limit=10").req, T0));
  EXPECT_EQ(one["clients"].size(), 5u);
  EXPECT_TRUE(one["next"].is_null());
  EXPECT_EQ(r.handle(get("/api/v1/clients?limit=0").req, T0).status, 400);
  EXPECT_EQ(r.handle(get("/api/v1/clients?limit=x").req, T0).status, 400);
}

TEST_F(ApiRouterTest, OneClientWithItsConnectionFacts) {
  auto& c = connect(pr::Version::V311, "dev/1");
  subscribe(c, "a/+/c", 1);
  ApiRouter r = router();
  HttpResponse resp = r.handle(get("/api/v1/clients/dev%2F1").req, T0);
  ASSERT_EQ(resp.status, 200) << resp.body;
  json j = body(resp);
  EXPECT_EQ(j["client_id"], "dev/1");
  EXPECT_EQ(j["connected"], true);
  EXPECT_EQ(j["address"], "test-peer");
  EXPECT_EQ(j["protocol"], "3.1.1");
  EXPECT_TRUE(j["username"].is_null());
  EXPECT_TRUE(j["connected_since"].is_string());
  EXPECT_EQ(j["subscriptions"], 1);
  EXPECT_EQ(j["queued"], 0);
  EXPECT_EQ(j["in_flight"], 0);
  EXPECT_EQ(j["subscription_list"][0]["filter"], "a/+/c");
  EXPECT_EQ(j["subscription_list"][0]["qos"], 1);
  EXPECT_EQ(r.handle(get("/api/v1/clients/nobody").req, T0).status, 404);
  EXPECT_EQ(r.handle(get("/api/v1/clients/%zz").req, T0).status, 400);
}

TEST_F(ApiRouterTest, DeleteDisconnectsWithAdministrativeActionAndKeepsTheSession) {
  auto& c = connect(pr::Version::V5, "victim", false, 600);
  ApiRouter r = router();
  HttpResponse resp = r.handle(get("/api/v1/clients/victim", "", "DELETE").req, T0);
  ASSERT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(body(resp)["disconnected"], true);
  EXPECT_EQ(body(resp)["session_dropped"], false);
  ASSERT_TRUE(waker.woke(token_of(c)));
  c.handler.on_wake(T0);
  auto out = c.take();
  ASSERT_EQ(out.size(), 1u);
  auto* d = test::at<pr::Disconnect>(out, 0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->reason, Reason::AdministrativeAction);  // 0x98
  EXPECT_TRUE(c.handler.closing());
  c.handler.on_closed(T0);
  json j = body(r.handle(get("/api/v1/clients/victim").req, T0));
  EXPECT_EQ(j["connected"], false);
  // Offline: a plain DELETE has nothing to disconnect; with session=true the session goes.
  EXPECT_EQ(r.handle(get("/api/v1/clients/victim", "", "DELETE").req, T0).status, 409);
  resp = r.handle(get("/api/v1/clients/victim?session=true", "", "DELETE").req, T0);
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(body(resp)["session_dropped"], true);
  EXPECT_EQ(r.handle(get("/api/v1/clients/victim").req, T0).status, 404);
}

TEST_F(ApiRouterTest, DeleteWithSessionDropsAConnectedClientsSession) {
  auto& c = connect(pr::Version::V311, "gone", false);
  subscribe(c, "x/#", 0);
  ApiRouter r = router();
  EXPECT_EQ(r.handle(get("/api/v1/clients/gone?session=true", "", "DELETE").req, T0).status, 200);
  EXPECT_EQ(broker->find_session("gone"), nullptr);
  EXPECT_EQ(broker->subscription_count(), 0u);
  c.handler.on_wake(T0);
  EXPECT_TRUE(c.take().empty());  // 3.1.1 has no DISCONNECT from the server: it just closes
  EXPECT_TRUE(c.handler.closing());
  EXPECT_EQ(r.handle(get("/api/v1/clients/x?session=maybe", "", "DELETE").req, T0).status, 400);
}

TEST_F(ApiRouterTest, SubscriptionsFilteredByAFilterThatCoversThem) {
  auto& a = connect(pr::Version::V5, "a");
  subscribe(a, "home/+/temp", 0);
  subscribe(a, "office/1", 1);
  auto& b = connect(pr::Version::V5, "b");
  subscribe(b, "home/kitchen/temp", 2);
  ApiRouter r = router();
  json j = body(r.handle(get("/api/v1/subscriptions?filter=home/%23&limit=10").req, T0));
  ASSERT_EQ(j["subscriptions"].size(), 2u) << j;
  EXPECT_EQ(j["subscriptions"][0]["client_id"], "a");
  EXPECT_EQ(j["subscriptions"][0]["filter"], "home/+/temp");
  EXPECT_EQ(j["subscriptions"][1]["client_id"], "b");
  EXPECT_EQ(j["subscriptions"][1]["qos"], 2);
  j = body(r.handle(get("/api/v1/subscriptions?filter=home/kitchen/temp").req, T0));
  EXPECT_EQ(j["subscriptions"].size(), 1u);  // "home/+/temp" is a wider filter, not listed
  // Paging over all three with the default page of 2.
  j = body(r.handle(get("/api/v1/subscriptions").req, T0));
  EXPECT_EQ(j["subscriptions"].size(), 2u);
  ASSERT_TRUE(j["next"].is_string());
  std::string next = j["next"];
  std::string encoded;
  for (unsigned char ch : next) {
    char buf[4];
    snprintf(buf, sizeof buf, "%%%02X", ch);
    encoded += buf;
  }
  j = body(r.handle(get("/api/v1/subscriptions?after=" + encoded).req, T0));
  ASSERT_EQ(j["subscriptions"].size(), 1u);  // ordered by client id, then filter
  EXPECT_EQ(j["subscriptions"][0]["client_id"], "b");
  EXPECT_EQ(j["subscriptions"][0]["filter"], "home/kitchen/temp");
  EXPECT_TRUE(j["next"].is_null());
  EXPECT_EQ(r.handle(get("/api/v1/subscriptions?filter=a/%23/b").req, T0).status, 400);
}

TEST_F(ApiRouterTest, RetainedMessagesFilteredAndPaged) {
  auto& p = connect(pr::Version::V5, "p");
  for (const char* t : {"r/1", "r/2", "r/3", "s/1"}) {
    auto pub = test::make_publish(t, std::string("v-") + t);
    pub.retain = true;
    p.send(pub, T0);
  }
  auto bin = test::make_publish("r/bin", std::string("\xff\x00", 2));
  bin.retain = true;
  p.send(bin, T0);
  ApiRouter r = router();
  json j = body(r.handle(get("/api/v1/retained?filter=r/%23&limit=10").req, T0));
  ASSERT_EQ(j["retained"].size(), 4u) << j;
  EXPECT_EQ(j["retained"][0]["topic"], "r/1");
  EXPECT_EQ(j["retained"][0]["payload"], "v-r/1");
  EXPECT_EQ(j["retained"][0]["payload_base64"], base64_encode(std::string_view("v-r/1")));
  EXPECT_EQ(j["retained"][3]["topic"], "r/bin");
  EXPECT_TRUE(j["retained"][3]["payload"].is_null());  // not UTF-8: base64 only
  EXPECT_EQ(j["retained"][3]["payload_bytes"], 2);
  j = body(r.handle(get("/api/v1/retained?filter=r/%23").req, T0));
  EXPECT_EQ(j["retained"].size(), 2u);
  EXPECT_EQ(j["next"], "r/2");
}

TEST_F(ApiRouterTest, MetricsCarryTheFiguresOtherRoomsAdd) {
  ApiOptions o;
  o.add_figures = [](BrokerFigures& f) { f.workers.push_back({"0", 1.5}); };
  ApiRouter r(*broker, o);
  HttpResponse resp = r.handle(get("/metrics").req, T0);
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.content_type, PrometheusWriter::kContentType);
  EXPECT_NE(resp.body.find("musqratt_worker_busy_seconds_total{worker=\"0\"} 1.5\n"), std::string::npos);
}

TEST(QueryParam, DecodesAndKeepsPlusAsTheWildcard) {
  EXPECT_EQ(query_param("a=1&filter=x/+/%23", "filter"), "x/+/#");
  EXPECT_EQ(query_param("filter=", "filter"), "");
  EXPECT_EQ(query_param("a=1", "filter"), std::nullopt);
  EXPECT_EQ(query_param("filter=%2", "filter"), std::nullopt);
  EXPECT_EQ(percent_decode("%41%62c"), "Abc");
}

TEST(HttpTokens, MatchesOnlyWholeTokensFromTheFile) {
  HttpTokens t = HttpTokens::from_lines("# comment\n\n  secret-one  \nsecond.token/x==\r\n", "tokens");
  EXPECT_EQ(t.size(), 2u);
  EXPECT_TRUE(t.contains("secret-one"));
  EXPECT_TRUE(t.contains("second.token/x=="));
  EXPECT_FALSE(t.contains("secret-on"));
  EXPECT_FALSE(t.contains("secret-one "));
  EXPECT_FALSE(t.contains(""));
  EXPECT_THROW(HttpTokens::from_lines("# nothing\n", "tokens"), std::runtime_error);
  EXPECT_THROW(HttpTokens::from_lines("has space\n", "tokens"), std::runtime_error);
}

}  // namespace
}  // namespace musqratt::web
