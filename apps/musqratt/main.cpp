// musqratt: the broker server. Reads settings, starts the epoll server and waits for a signal.
#include <signal.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "broker/broker.h"
#include "net/server.h"
#include "settings.h"
#include "util/log.h"

using namespace musqratt;

int main(int argc, char** argv) {
  app::Settings settings;
  switch (app::parse_settings(argc, argv, settings)) {
    case app::ParseOutcome::ExitOk: return 0;
    case app::ParseOutcome::ExitError: return 2;
    case app::ParseOutcome::Run: break;
  }
  util::LogLevel level;
  if (!util::parse_log_level(settings.log_level, level)) {
    fprintf(stderr, "musqratt: unknown log level '%s'\n", settings.log_level.c_str());
    return 2;
  }
  util::set_log_level(level);
  if (settings.listen.empty()) {
    fprintf(stderr, "musqratt: no listener configured\n");
    return 2;
  }
  if (!settings.config_file.empty()) LOG_INFO("configuration loaded from %s", settings.config_file.c_str());

  // Signals are taken synchronously by the main thread; workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (std::string err = app::resolve_access_policy(settings); !err.empty()) {
    fprintf(stderr, "musqratt: %s\n", err.c_str());
    return 2;
  }
  std::unique_ptr<broker::Broker> broker_ptr;
  try {
    broker_ptr = std::make_unique<broker::Broker>(settings.broker);
  } catch (const std::exception& e) {
    fprintf(stderr, "musqratt: %s\n", e.what());
    return 2;
  }
  broker::Broker& broker = *broker_ptr;
  unsigned threads = settings.threads ? settings.threads : std::max(1u, std::thread::hardware_concurrency());
  net::Server server(broker, net::ServerOptions{settings.listen, threads, settings.transport});
  if (std::string err = server.start(); !err.empty()) {
    LOG_ERROR("%s", err.c_str());
    return 1;
  }
  LOG_INFO("musqratt %s running", MUSQRATT_VERSION);
  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      if (std::string err = broker.access().reload(); err.empty()) LOG_INFO("SIGHUP: password file and ACL reloaded");
      else LOG_ERROR("SIGHUP: reload failed, keeping the previous tables: %s", err.c_str());
      continue;
    }
    LOG_INFO("signal %d received, shutting down", sig);
    break;
  }
  server.stop();
  LOG_INFO("stopped");
  return 0;
}
