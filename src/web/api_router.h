#pragma once
// The HTTP endpoint for operators: GET /metrics, /healthz, /readyz, the /api/v1 resources and
// the status page. One router object, shared by every HTTP connection of every worker.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "util/clock.h"
#include "web/broker_metrics.h"
#include "web/http_auth.h"
#include "web/http_request.h"
#include "web/http_response.h"

namespace musqratt::broker {
class Broker;
}

namespace musqratt::web {

/// What /readyz reports: each check by name.
struct Readiness {
  std::vector<std::pair<std::string, bool>> checks;  // e.g. {"listeners", true}, {"store", true}
  bool ready() const {
    for (const auto& c : checks)
      if (!c.second) return false;
    return !checks.empty();
  }
};

struct ApiOptions {
  /// Decides on the credentials of every request except /healthz and /readyz. Empty: no
  /// credentials are configured and every request is allowed (the app allows that only when
  /// the HTTP listener is on loopback).
  AuthCheck auth;
  /// Fills the figures that other rooms keep (worker busy time, the store's commit latency,
  /// bridges) into what the broker gave. Optional.
  std::function<void(BrokerFigures&)> add_figures;
  /// For /readyz. Optional (without it, /readyz says ready).
  std::function<Readiness()> readiness;
  /// Page sizes of the listings: `limit` defaults to this and is capped at max_page.
  size_t default_page = 100;
  size_t max_page = 1000;
};

/// Thread: handle() may be called from every worker at once (it reads the broker through its
/// thread-safe public API). Ownership: refers to the broker, which outlives it.
///
/// Requests other than GET/HEAD /healthz and /readyz are authenticated first, whatever their
/// path: an unauthenticated client gets 401 for a path that exists and for one that does not.
class ApiRouter {
 public:
  ApiRouter(broker::Broker& broker, ApiOptions options);

  HttpResponse handle(const HttpRequest& req, util::TimePoint now) const;
  /// A handler for HttpConnection (the router must outlive the connections).
  static HttpHandler handler(std::shared_ptr<const ApiRouter> router);

 private:
  HttpResponse metrics(util::TimePoint now) const;
  HttpResponse readyz() const;
  HttpResponse list_clients(const HttpRequest& req) const;
  HttpResponse get_client(std::string_view id) const;
  HttpResponse delete_client(std::string_view id, const HttpRequest& req, util::TimePoint now) const;
  HttpResponse list_subscriptions(const HttpRequest& req) const;
  HttpResponse list_retained(const HttpRequest& req, util::TimePoint now) const;
  size_t page_limit(const HttpRequest& req) const;

  broker::Broker& broker_;
  const ApiOptions opt_;
};

/// The value of query parameter `name` ("a=1&b=2"), percent-decoded; nullopt when absent or
/// badly encoded. '+' stands for itself (it is MQTT's single-level wildcard), not a space.
std::optional<std::string> query_param(std::string_view query, std::string_view name);
/// Percent-decodes a path segment or query value; nullopt on a bad escape.
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace musqratt::web
