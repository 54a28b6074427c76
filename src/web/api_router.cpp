#include "web/api_router.h"

#include <algorithm>
#include <charconv>
#include <expected>

#include "broker/broker.h"
#include "protocol/topic.h"
#include "web/api_json.h"
#include "web/status_page.h"

namespace musqratt::web {
namespace {

using nlohmann::json;

constexpr std::string_view kClients = "/api/v1/clients";

HttpResponse json_response(uint16_t status, const json& j) { return HttpResponse::json(status, dump(j)); }

HttpResponse error(uint16_t status, std::string_view message) {
  return json_response(status, json{{"error", std::string(message)}});
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// The subscription's filter as matched against a listing's filter: a shared subscription
/// ($share/group/f) by its f.
std::string_view routing_filter(std::string_view filter) {
  if (auto shared = protocol::parse_shared_filter(filter)) return shared->filter;
  return filter;
}

/// Whether a listing asked for `filter` includes the subscription or topic `item`: the same
/// text, or the listing's wildcards cover it ('+' and '#' in `item` are matched as text, so
/// "a/#" lists the subscription "a/+/c").
bool listed(const std::optional<std::string>& filter, std::string_view item) {
  return !filter || *filter == item || protocol::topic_matches(*filter, item);
}

/// Paging: items sorted by their key, those after the `after` key, at most `limit`; `next` is
/// the last key returned when more follow.
template <class Item, class Key>
json page(std::vector<Item>& items, Key key, const std::optional<std::string>& after, size_t limit,
          const char* name, const std::function<json(const Item&)>& render) {
  std::sort(items.begin(), items.end(), [&](const Item& a, const Item& b) { return key(a) < key(b); });
  auto it = items.begin();
  if (after) it = std::upper_bound(items.begin(), items.end(), *after,
                                   [&](const std::string& k, const Item& i) { return k < key(i); });
  json list = json::array();
  std::string last;
  for (; it != items.end() && list.size() < limit; ++it) {
    list.push_back(render(*it));
    last = key(*it);
  }
  json j;
  j[name] = std::move(list);
  j["next"] = it != items.end() ? json(last) : json(nullptr);
  return j;
}

/// The undecoded value of query parameter `name`, or nullopt.
std::optional<std::string_view> raw_query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
  }
  return std::nullopt;
}

/// The `filter` parameter: nullopt when absent; an error response when badly encoded or not
/// a valid MQTT topic filter.
std::expected<std::optional<std::string>, HttpResponse> filter_param(const HttpRequest& req) {
  auto raw = raw_query_param(req.query, "filter");
  if (!raw) return std::optional<std::string>();
  auto f = percent_decode(*raw);
  if (!f) return std::unexpected(error(400, "bad percent-encoding in filter"));
  if (!protocol::valid_topic_filter(*f)) return std::unexpected(error(400, "filter is not a valid topic filter"));
  return f;
}
}  // namespace

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  auto raw = raw_query_param(query, name);
  return raw ? percent_decode(*raw) : std::nullopt;
}

ApiRouter::ApiRouter(broker::Broker& broker, ApiOptions options) : broker_(broker), opt_(std::move(options)) {}

HttpHandler ApiRouter::handler(std::shared_ptr<const ApiRouter> router) {
  return [router](const HttpRequest& req) { return router->handle(req, util::now()); };
}

size_t ApiRouter::page_limit(const HttpRequest& req) const {
  size_t limit = opt_.default_page;
  if (auto text = query_param(req.query, "limit")) {
    size_t v = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc() || end != text->data() + text->size() || v == 0) return 0;
    limit = std::min(v, opt_.max_page);
  }
  return limit;
}

HttpResponse ApiRouter::handle(const HttpRequest& req, util::TimePoint now) const {
  const bool get = req.method == "GET" || req.method == "HEAD";
  // Probes (load balancers, systemd, Kubernetes) carry no credentials; these two say only
  // whether the broker runs, nothing about its clients.
  if (req.path == "/healthz" && get) return json_response(200, json{{"status", "ok"}});
  if (req.path == "/readyz" && get) return readyz();
  if (opt_.auth)
    if (auto refused = authorize(req, opt_.auth)) return std::move(*refused);

  if (req.path == "/metrics") {
    if (!get) return HttpResponse::text(405).with_header("Allow", "GET, HEAD");
    return metrics(now);
  }
  if (req.path == kClients) {
    if (!get) return HttpResponse::text(405).with_header("Allow", "GET, HEAD");
    return list_clients(req);
  }
  if (req.path.starts_with(kClients) && req.path.size() > kClients.size() + 1 && req.path[kClients.size()] == '/') {
    auto id = percent_decode(req.path.substr(kClients.size() + 1));
    if (!id) return error(400, "bad percent-encoding in the client id");
    if (get) return get_client(*id);
    if (req.method == "DELETE") return delete_client(*id, req, now);
    return HttpResponse::text(405).with_header("Allow", "GET, HEAD, DELETE");
  }
  if (req.path == "/api/v1/subscriptions") {
    if (!get) return HttpResponse::text(405).with_header("Allow", "GET, HEAD");
    return list_subscriptions(req);
  }
  if (req.path == "/api/v1/retained") {
    if (!get) return HttpResponse::text(405).with_header("Allow", "GET, HEAD");
    return list_retained(req, now);
  }
  if (req.path == "/" || req.path == "/index.html" || req.path.starts_with("/status/")) return status_page_response(req);
  return error(404, "no such resource");
}

HttpResponse ApiRouter::metrics(util::TimePoint now) const {
  BrokerFigures f = collect_broker_figures(broker_, now);
  if (opt_.add_figures) opt_.add_figures(f);
  HttpResponse r;
  r.content_type = PrometheusWriter::kContentType;
  r.body = render_broker_metrics(f);
  return r;
}

HttpResponse ApiRouter::readyz() const {
  Readiness r = opt_.readiness ? opt_.readiness() : Readiness{{{"broker", true}}};
  json checks = json::object();
  for (const auto& [name, ok] : r.checks) checks[name] = ok;
  return json_response(r.ready() ? 200 : 503, json{{"ready", r.ready()}, {"checks", checks}});
}

HttpResponse ApiRouter::list_clients(const HttpRequest& req) const {
  const size_t limit = page_limit(req);
  if (!limit) return error(400, "limit must be a positive integer");
  std::vector<broker::SessionPtr> sessions = broker_.sessions();
  auto key = [](const broker::SessionPtr& s) -> const std::string& { return s->client_id(); };
  std::function<json(const broker::SessionPtr&)> render = [](const broker::SessionPtr& s) {
    return client_json(*s, false);
  };
  return json_response(200, page(sessions, key, query_param(req.query, "after"), limit, "clients", render));
}

HttpResponse ApiRouter::get_client(std::string_view id) const {
  broker::SessionPtr s = broker_.find_session(id);
  if (!s) return error(404, "no such client");
  return json_response(200, client_json(*s, true));
}

HttpResponse ApiRouter::delete_client(std::string_view id, const HttpRequest& req, util::TimePoint now) const {
  const auto session_param = query_param(req.query, "session");
  if (session_param && *session_param != "true" && *session_param != "false")
    return error(400, "session must be true or false");
  const bool drop = session_param && *session_param == "true";
  using R = broker::Broker::AdminDisconnect;
  switch (broker_.disconnect_client(id, drop, now)) {
    case R::NotFound: return error(404, "no such client");
    case R::Disconnected:
      return json_response(200, json{{"client_id", std::string(id)}, {"disconnected", true}, {"session_dropped", drop}});
    case R::SessionDropped:
      return json_response(200, json{{"client_id", std::string(id)}, {"disconnected", false}, {"session_dropped", true}});
    case R::NotConnected:
      return error(409, "the client is not connected (add ?session=true to drop its session)");
  }
  return error(500, "unexpected result");
}

HttpResponse ApiRouter::list_subscriptions(const HttpRequest& req) const {
  const size_t limit = page_limit(req);
  if (!limit) return error(400, "limit must be a positive integer");
  auto param = filter_param(req);
  if (!param) return std::move(param.error());
  const std::optional<std::string>& filter = *param;
  struct Row {
    std::string client_id, filter, key;
    broker::SubscriptionRecord rec;
  };
  std::vector<Row> rows;
  for (const auto& s : broker_.sessions())
    for (auto& [f, rec] : s->subscriptions())
      if (listed(filter, routing_filter(f)))
        // The cursor: client id, NUL (which no MQTT string holds [MQTT-1.5.4-2]), filter.
        rows.push_back(Row{s->client_id(), f, s->client_id() + std::string(1, '\0') + f, rec});
  auto key = [](const Row& r) -> const std::string& { return r.key; };
  std::function<json(const Row&)> render = [](const Row& r) { return subscription_json(r.client_id, r.filter, r.rec); };
  return json_response(200, page(rows, key, query_param(req.query, "after"), limit, "subscriptions", render));
}

HttpResponse ApiRouter::list_retained(const HttpRequest& req, util::TimePoint now) const {
  const size_t limit = page_limit(req);
  if (!limit) return error(400, "limit must be a positive integer");
  auto param = filter_param(req);
  if (!param) return std::move(param.error());
  const std::optional<std::string>& filter = *param;
  std::vector<broker::MessagePtr> messages;
  broker_.for_each_retained(filter ? *filter : "#", now, [&](const broker::MessagePtr& m) { messages.push_back(m); });
  auto key = [](const broker::MessagePtr& m) -> const std::string& { return m->topic; };
  std::function<json(const broker::MessagePtr&)> render = [now](const broker::MessagePtr& m) {
    return retained_json(*m, now);
  };
  return json_response(200, page(messages, key, query_param(req.query, "after"), limit, "retained", render));
}

}  // namespace musqratt::web
