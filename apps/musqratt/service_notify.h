#pragma once
// The service manager's side channel (systemd's sd_notify protocol through libsystemd): READY=1
// once every listener is open and the store is recovered, RELOADING=1 / READY=1 around a
// reload, STOPPING=1 on the way out, WATCHDOG=1 pings. Every call is a no-op when the process
// was not started with NOTIFY_SOCKET set.
#include <chrono>
#include <optional>
#include <string>

namespace musqratt::app {

/// Thread: any (each call sends one datagram).
class ServiceNotify {
 public:
  void ready(const std::string& status) const;
  void reloading() const;
  void stopping() const;
  void status(const std::string& status) const;
  void watchdog() const;
  /// WATCHDOG_USEC, when the service manager expects pings from this process.
  static std::optional<std::chrono::microseconds> watchdog_interval();

 private:
  void send(const std::string& state) const;
};

}  // namespace musqratt::app
