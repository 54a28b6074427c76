#include "service_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>

namespace musqratt::app {

void ServiceNotify::send(const std::string& state) const {
  // unset_environment = 0: the watchdog thread and later reloads need NOTIFY_SOCKET too.
  sd_notify(0, state.c_str());
}

void ServiceNotify::ready(const std::string& status) const { send("READY=1\nSTATUS=" + status); }

void ServiceNotify::reloading() const {
  // MONOTONIC_USEC lets systemd 253 and later (Type=notify-reload) match the reload it asked for.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
  send("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceNotify::stopping() const { send("STOPPING=1\nSTATUS=stopping"); }
void ServiceNotify::status(const std::string& status) const { send("STATUS=" + status); }
void ServiceNotify::watchdog() const { send("WATCHDOG=1"); }

std::optional<std::chrono::microseconds> ServiceNotify::watchdog_interval() {
  uint64_t usec = 0;
  if (!getenv("NOTIFY_SOCKET")) return std::nullopt;  // nobody to ping
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) return std::chrono::microseconds(usec);
  return std::nullopt;
}

}  // namespace musqratt::app
