// musqratt: the broker server. Reads settings, starts the epoll server and waits for a signal.
#include <signal.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "bridge/bridge_service.h"
#include "broker/broker.h"
#include "net/address.h"
#include "net/server.h"
#include "store/sqlite_store.h"
#ifdef MUSQRATT_HAVE_DPDK
#include "net/dpdk/dpdk_transport.h"
#endif
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
  std::unique_ptr<store::SqliteStore> store;
  if (settings.persistence) {
    if (settings.persistence_sync != "always" && settings.persistence_sync != "batch") {
      fprintf(stderr, "musqratt: persistence_sync must be always or batch\n");
      return 2;
    }
    store = std::make_unique<store::SqliteStore>(
        store::StoreOptions{settings.persistence_dir, settings.persistence_sync, settings.persistence_sync_interval,
                            settings.persistence_memory_queue});
    try {
      broker::RestoredState restored = store->open();
      broker.attach_persistence(store.get(), restored, util::now());
    } catch (const std::exception& e) {
      fprintf(stderr, "musqratt: %s\n", e.what());
      return 1;
    }
  }
  unsigned threads = settings.threads ? settings.threads : std::max(1u, std::thread::hardware_concurrency());
  net::ServerOptions server_options{settings.listen, threads, settings.transport, {}, settings.tls_listen,
                                     net::TlsSettings{settings.tls_cert, settings.tls_key, settings.tls_ca,
                                                      settings.tls_require_certificate, settings.tls_use_identity_as_username},
                                     net::UringSettings{settings.uring_sqpoll, settings.uring_sqpoll_idle_ms}};
  if (settings.transport == "dpdk") {
#ifdef MUSQRATT_HAVE_DPDK
    auto ep = net::parse_endpoint(settings.listen.front());  // only its port: lwIP listens on dpdk_ip
    if (!ep) {
      fprintf(stderr, "musqratt: %s\n", ep.error().c_str());
      return 2;
    }
    net::dpdk::DpdkTransportOptions d{settings.dpdk_eal_args, settings.dpdk_port, settings.dpdk_ip,
                                      settings.dpdk_netmask,  settings.dpdk_gateway, settings.dpdk_mac,
                                      settings.dpdk_mtu,      ep->port,              settings.dpdk_idle_sleep_us,
                                      settings.dpdk_queues};
    server_options.user_level_worker = [d](unsigned index, broker::Broker& b) { return net::dpdk::make_dpdk_worker(d, index, b); };
#else
    fprintf(stderr, "musqratt: transport 'dpdk' is not available: this build was made without MUSQRATT_DPDK (scripts/build-dpdk.sh)\n");
    return 2;
#endif
  }
  // Bridges start before the listeners: their buffers subscribe before any client can publish.
  std::unique_ptr<bridge::BridgeService> bridges;
  if (!settings.bridges.empty()) {
    bridges = std::make_unique<bridge::BridgeService>(broker, settings.bridges, threads);
    if (std::string err = bridges->start(); !err.empty()) {
      LOG_ERROR("%s", err.c_str());
      return 2;
    }
  }
  net::Server server(broker, std::move(server_options));
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
      if (std::string err = server.reload_tls(); !err.empty())
        LOG_ERROR("SIGHUP: TLS reload failed, keeping the previous certificates: %s", err.c_str());
      continue;
    }
    LOG_INFO("signal %d received, shutting down", sig);
    break;
  }
  server.stop();
  if (bridges) bridges->stop();  // before the store closes: what it did last is written
  if (store) store->close();  // writes what is still pending
  LOG_INFO("stopped");
  return 0;
}
