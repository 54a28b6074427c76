#pragma once
// SIGHUP: the configuration file (and the command-line flags, which still win over it) read
// again and applied without disconnecting anyone: password file, ACL, TLS certificates and
// keys (new handshakes use them), limits and hold filters (Broker::replace_config), log level,
// destination and format, listeners added and removed (Server::update_listeners: the
// connections of a kept or removed listener stay). A configuration with any error is refused as a whole and the
// running one stays; keys that cannot change while running are named in the log, keep their
// running values, and the rest still applies.
#include <string>
#include <vector>

#include "broker/broker.h"
#include "net/server.h"
#include "service_notify.h"
#include "settings.h"
#include "web_listeners.h"

namespace musqratt::app {

/// Log level, destination, format and rates from `s`. On error (the log file cannot be
/// opened) the previous destination stays and the error is returned.
std::string apply_log_settings(const Settings& s);

/// Thread: the main thread only.
class Reloader {
 public:
  Reloader(int argc, char** argv, Settings running, broker::Broker& broker, net::Server& server,
           std::shared_ptr<WebRuntime> web, const ServiceNotify& notify)
      : argv_(argv, argv + argc), running_(std::move(running)), broker_(broker), server_(server), web_(std::move(web)),
        notify_(notify) {}

  /// Returns true if the new configuration was applied (perhaps without its restart-only keys).
  bool reload();
  const Settings& running() const { return running_; }

 private:
  bool refuse(const std::vector<std::string>& errors);
  std::vector<char*> argv_;
  Settings running_;
  broker::Broker& broker_;
  net::Server& server_;
  std::shared_ptr<WebRuntime> web_;
  const ServiceNotify& notify_;
};

}  // namespace musqratt::app
