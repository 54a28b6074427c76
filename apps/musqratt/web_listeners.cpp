#include "web_listeners.h"

#include <algorithm>

#include "net/mqtt_endpoint.h"
#include "store/sqlite_store.h"
#include "web/admin_auth.h"
#include "web/api_router.h"
#include "web/http_connection.h"
#include "web/status_page.h"
#include "web/websocket_layer.h"

namespace musqratt::app {
namespace {

/// socket <-> [TLS, added by the server for wss] <-> WebSocketLayer <-> MQTT session driver.
/// Requests for other paths that ask for no WebSocket get the status page, so the page and
/// its MQTT connection share an origin.
net::EndpointFactory websocket_mqtt_endpoints(broker::Broker& broker, web::WebSocketOptions options) {
  return [&broker, options](net::NewConnection& c) -> std::unique_ptr<net::Endpoint> {
    net::NewConnection conn = c;
    auto upper = [&broker, conn](const web::WsUpgrade&) mutable -> std::unique_ptr<net::Endpoint> {
      return std::make_unique<net::MqttEndpoint>(broker, conn);
    };
    return std::make_unique<web::WebSocketLayer>(options, std::move(upper), c.now, web::status_page_response);
  };
}

/// The owner of what the HTTP handler uses: the router and the authentication state.
struct HttpService {
  std::unique_ptr<web::AdminAuth> auth;
  std::shared_ptr<const web::ApiRouter> router;
};

std::expected<std::shared_ptr<HttpService>, std::string> make_http_service(const Settings& s, broker::Broker& broker,
                                                                           std::shared_ptr<WebRuntime> runtime) {
  const bool credentials = !s.http_admins.empty() || !s.http_token_file.empty();
  if (!s.http_admins.empty() && s.broker.password_file.empty())
    return std::unexpected("http_admins needs password_file (their passwords are checked against it)");
  if (!credentials && !is_loopback_host(s.http_listen))
    return std::unexpected("http_listen is not on loopback and neither http_admins nor http_token_file is set: "
                           "anyone could read and manage the broker. Set one of them");
  auto service = std::make_shared<HttpService>();
  web::ApiOptions api;
  if (credentials) {
    std::optional<web::HttpTokens> tokens;
    if (!s.http_token_file.empty()) {
      try {
        tokens = web::HttpTokens::load(s.http_token_file);
      } catch (const std::exception& e) {
        return std::unexpected(std::string(e.what()));
      }
    }
    service->auth = std::make_unique<web::AdminAuth>(broker.access(), s.http_admins, std::move(tokens));
    api.auth = service->auth->as_check();
  }
  api.add_figures = [runtime](web::BrokerFigures& f) {
    if (net::Server* server = runtime->server.load(std::memory_order_acquire); server && runtime->serving) {
      auto workers = server->worker_figures();
      for (size_t i = 0; i < workers.size(); ++i)
        f.workers.push_back({std::to_string(i), workers[i].busy_seconds, workers[i].connections});
    }
    if (bridge::BridgeService* bridges = runtime->bridges.load(std::memory_order_acquire)) {
      for (const auto& b : bridges->figures()) {
        // The metric's states (web::BrokerFigures::kBridgeStates); "down" is "disconnected".
        const char* state = b.state == bridge::LinkState::Connected    ? "connected"
                            : b.state == bridge::LinkState::Connecting ? "connecting"
                                                                       : "disconnected";
        f.bridges.push_back({b.name, state, b.backlog});
      }
    }
    if (runtime->store) {
      auto h = runtime->store->commit_latency();
      f.persistence_commit_seconds = web::BrokerFigures::Histogram{h.upper_bounds, h.cumulative, h.sum_seconds, h.count};
    }
  };
  api.readiness = [runtime] {
    web::Readiness r;
    r.checks.emplace_back("listeners", runtime->serving.load());
    // The store is opened and its contents restored before the server starts.
    if (runtime->persistence) r.checks.emplace_back("store", runtime->store != nullptr);
    return r;
  };
  service->router = std::make_shared<const web::ApiRouter>(broker, std::move(api));
  return service;
}

}  // namespace

std::expected<WebListeners, std::string> make_web_listeners(const Settings& s, broker::Broker& broker,
                                                            store::SqliteStore* store,
                                                            std::shared_ptr<WebRuntime> runtime) {
  WebListeners out;
  out.runtime = std::move(runtime);
  if (!out.runtime) {
    out.runtime = std::make_shared<WebRuntime>();
    out.runtime->store = store;
    out.runtime->persistence = s.persistence;
  }
  if (!s.ws_listen.empty() || !s.wss_listen.empty()) {
    if (s.ws_path.empty() || s.ws_path.front() != '/') return std::unexpected("ws_path must start with '/'");
    web::WebSocketOptions ws;
    ws.handshake.path = s.ws_path;
    // A client sends an MQTT packet per message; nothing larger can be a valid one.
    ws.max_message_size = s.broker.max_packet_size;
    for (const auto& a : s.ws_listen)
      out.listeners.push_back({a, "mqtt, websocket " + s.ws_path, websocket_mqtt_endpoints(broker, ws), false});
    for (const auto& a : s.wss_listen)
      out.listeners.push_back({a, "mqtt, websocket over tls " + s.ws_path, websocket_mqtt_endpoints(broker, ws), true});
  }
  if (!s.http_listen.empty()) {
    auto service = make_http_service(s, broker, out.runtime);
    if (!service) return std::unexpected(service.error());
    std::shared_ptr<HttpService> svc = *service;
    web::HttpHandler handler = [svc](const web::HttpRequest& req) { return svc->router->handle(req, util::now()); };
    out.listeners.push_back({s.http_listen, "http",
                             [handler](net::NewConnection& c) -> std::unique_ptr<net::Endpoint> {
                               return std::make_unique<web::HttpConnection>(web::HttpConnectionOptions{}, handler, c.now);
                             },
                             false});
  }
  return out;
}

}  // namespace musqratt::app
