#pragma once
// The web side of the server, composed from src/web and src/net: the WebSocket listeners
// (ws_listen, wss_listen) and the HTTP endpoint for operators (http_listen). main() adds the
// listeners this returns to the server and tells the runtime when the server is up.
#include <atomic>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "bridge/bridge_service.h"
#include "broker/broker.h"
#include "net/server.h"
#include "settings.h"

namespace musqratt::store {
class SqliteStore;
}

namespace musqratt::app {

/// What the HTTP endpoint learns after the listeners are made: the server (worker busy time),
/// the store (commit latency) and whether the server is serving (/readyz).
/// Thread: set by main before and after Server::start; read by workers serving HTTP.
struct WebRuntime {
  std::atomic<net::Server*> server{nullptr};
  std::atomic<bool> serving{false};  // listeners open and workers running
  store::SqliteStore* store = nullptr;  // set before the server starts, or null
  std::atomic<bridge::BridgeService*> bridges{nullptr};  // set while the bridges run
  bool persistence = false;
};

struct WebListeners {
  std::vector<net::ServerOptions::ExtraListener> listeners;
  std::shared_ptr<WebRuntime> runtime;
};

/// Checks the web settings (the HTTP endpoint off loopback needs credentials, as MQTT
/// listeners do; http_admins needs password_file; ws_path must be a path) and builds the
/// listeners around `runtime` (made with `store` when null; a reload passes the running one).
/// Returns an error message on a setting that cannot work. Throws nothing.
std::expected<WebListeners, std::string> make_web_listeners(const Settings& s, broker::Broker& broker,
                                                            store::SqliteStore* store,
                                                            std::shared_ptr<WebRuntime> runtime = nullptr);

}  // namespace musqratt::app
