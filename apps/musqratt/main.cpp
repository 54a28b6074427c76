// musqratt: the broker server. Reads settings, starts the server, tells the service manager
// when it is ready, and then serves signals: SIGHUP reloads the configuration, SIGUSR1 reopens
// the log file, SIGINT/SIGTERM stop.
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <memory>
#include <thread>

#include "util/memory_release.h"
#include "allocator.h"
#include "bridge/bridge_service.h"
#include "broker/broker.h"
#include "check_config.h"
#include "net/address.h"
#include "net/server.h"
#include "reload.h"
#include "service_notify.h"
#include "store/sqlite_store.h"
#include "watchdog.h"
#include "worker_count.h"
#ifdef MUSQRATT_HAVE_NATS
#include "cluster/nats_link.h"
#endif
#ifdef MUSQRATT_HAVE_DPDK
#include "net/dpdk/dpdk_transport.h"
#endif
#include "settings.h"
#include "web_listeners.h"
#include "util/log.h"

using namespace musqratt;

int main(int argc, char** argv) {
  util::keep_large_blocks_apart();
  app::Settings settings;
  app::Origins origins;
  switch (app::parse_settings(argc, argv, settings, origins)) {
    case app::ParseOutcome::ExitOk: return 0;
    case app::ParseOutcome::ExitError: return 2;
    case app::ParseOutcome::CheckConfig: return app::check_config(argc, argv);
    case app::ParseOutcome::Run: break;
  }
  if (std::string err = app::apply_log_settings(settings); !err.empty()) {
    fprintf(stderr, "musqratt: %s\n", err.c_str());
    return 2;
  }
  if (!settings.config_file.empty()) LOG_INFO("configuration loaded from %s", settings.config_file.c_str());

  // Signals are taken synchronously by the main thread; workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

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
    store = std::make_unique<store::SqliteStore>(
        store::StoreOptions{settings.persistence_dir, settings.persistence_sync, settings.persistence_sync_interval,
                            settings.persistence_memory_queue, store::StoreOptions{}.reserve_bytes,
                            settings.persistence_max_size});
    try {
      broker::RestoredState restored = store->open();
      broker.attach_persistence(store.get(), restored, util::now());
    } catch (const std::exception& e) {
      LOG_ERROR("%s", e.what());
      return 1;
    }
  }
#ifdef MUSQRATT_HAVE_NATS
  std::unique_ptr<cluster::NatsLink> link;
  if (settings.cluster_given) {
    link = std::make_unique<cluster::NatsLink>(settings.cluster, broker);
    if (std::string err = link->start(); !err.empty()) {
      fprintf(stderr, "musqratt: %s\n", err.c_str());
      return 2;
    }
  }
#else
  if (settings.cluster_given) {
    fprintf(stderr, "musqratt: [cluster] is not available: this build was made without libnats (libnats-dev)\n");
    return 2;
  }
#endif
  unsigned threads = settings.threads ? settings.threads : app::default_workers(app::usable_cpus());
  net::ServerOptions server_options{settings.listen, threads, settings.transport, {}, settings.tls_listen,
                                     net::TlsSettings{settings.tls_cert, settings.tls_key, settings.tls_ca,
                                                      settings.tls_require_certificate, settings.tls_use_identity_as_username},
                                     net::UringSettings{settings.uring_sqpoll, settings.uring_sqpoll_idle_ms, settings.epoll_batch_io,
                                                       settings.epoll_busy_poll_us},
                                     {},
                                     net::AcceptedSocketOptions{settings.local_send_buffer}};
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
  auto web = app::make_web_listeners(settings, broker, store.get());  // and the runtime a reload reuses
  if (!web) {
    fprintf(stderr, "musqratt: %s\n", web.error().c_str());
    return 2;
  }
  server_options.extra_listeners = std::move(web->listeners);
  // Bridges start before the listeners: their buffers subscribe before any client can publish.
  std::unique_ptr<bridge::BridgeService> bridges;
  if (!settings.bridges.empty()) {
    bridges = std::make_unique<bridge::BridgeService>(broker, settings.bridges, threads);
    if (std::string err = bridges->start(); !err.empty()) {
      LOG_ERROR("%s", err.c_str());
      return 2;
    }
  } else {
    bridge::discard_unconfigured_buffers(broker, {});  // every [[bridge]] removed: their buffers go
  }
  // Password checks (a slow key derivation each) run on a pool of their own, never on a
  // worker: a flood of wrong passwords costs those threads, not every client's latency.
  auth::VerifyPoolOptions verify_options;
  verify_options.threads = settings.auth_threads ? settings.auth_threads : 1;
  verify_options.backoff.free_failures = settings.auth_backoff_failures ? settings.auth_backoff_failures : UINT32_MAX;
  auth::VerifyPool verify_pool(verify_options, [&broker](const auth::VerifyRequest& r) {
    return broker.access().check_password(r.username, r.password);
  });
  broker.attach_verify_pool(&verify_pool);
  // The threads server.start() makes (workers, housekeeping) are the ones the watchdog watches.
  const std::vector<pid_t> threads_before = app::process_threads();
  net::Server server(broker, std::move(server_options));
  web->runtime->server = &server;
  if (std::string err = server.start(); !err.empty()) {
    LOG_ERROR("%s", err.c_str());
    return 1;
  }
  web->runtime->serving = true;
  web->runtime->bridges = bridges.get();  // null without bridges
  LOG_INFO("musqratt %s running (heap: %s)", MUSQRATT_VERSION, app::allocator_name().c_str());

  // Every listener is open and the store recovered: ready.
  const app::ServiceNotify notify;
  notify.ready("serving " + std::to_string(settings.listen.size() + settings.tls_listen.size()) + " listener(s)");
  std::unique_ptr<app::Watchdog> watchdog;
  if (auto interval = app::ServiceNotify::watchdog_interval()) {
    // The threads server.start() made: the workers and the housekeeping thread.
    std::vector<pid_t> watched;
    const std::vector<pid_t> after = app::process_threads();
    std::set_difference(after.begin(), after.end(), threads_before.begin(), threads_before.end(), std::back_inserter(watched));
    watchdog = std::make_unique<app::Watchdog>(*interval, watched, [&notify] { notify.watchdog(); });
    LOG_INFO("watchdog: pinging every %lld ms while %zu server thread(s) are alive",
             static_cast<long long>(interval->count() / 2000), watched.size());
  }

  app::Reloader reloader(argc, argv, settings, broker, server, web->runtime, notify);
  const timespec tick{1, 0};
  while (true) {
    // A second at most between two looks at the rate-limited log kinds' summaries.
    int sig = sigtimedwait(&signals, nullptr, &tick);
    util::log_flush_suppressed(util::now());
    if (sig < 0) continue;  // timeout or EINTR
    if (sig == SIGHUP) {
      reloader.reload();
      continue;
    }
    if (sig == SIGUSR1) {
      if (std::string err = util::reopen_log_file(); !err.empty()) LOG_ERROR("SIGUSR1: reopening the log file: %s", err.c_str());
      else LOG_INFO("SIGUSR1: log file reopened");
      continue;
    }
    LOG_INFO("signal %d received, shutting down", sig);
    break;
  }
  notify.stopping();
  watchdog.reset();
  web->runtime->serving = false;  // /readyz says so while the server stops
  verify_pool.stop();  // checks not yet run are answered as refused while the workers still run
  server.stop();
#ifdef MUSQRATT_HAVE_NATS
  if (link) link->stop();  // after the workers: nothing publishes any more
#endif
  web->runtime->bridges = nullptr;
  if (bridges) bridges->stop();  // before the store closes: what it did last is written
  if (store) store->close();  // writes what is still pending
  LOG_INFO("stopped");
  return 0;
}
