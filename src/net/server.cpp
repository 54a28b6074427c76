#include "net/server.h"

#include <unistd.h>

#include <algorithm>

#include "net/mqtt_endpoint.h"
#include "net/tls_layer.h"
#include "net/transport.h"
#include "util/log.h"

namespace musqratt::net {

Server::Server(broker::Broker& broker, ServerOptions options) : broker_(broker), options_(std::move(options)) {}

Server::~Server() {
  stop();
  for (const Listener& l : listeners_) close(l.fd);
}

std::string Server::open(const std::string& address, std::string description, EndpointFactory factory) {
  auto ep = parse_endpoint(address);
  if (!ep) return ep.error();
  auto fd = open_listener(*ep);
  if (!fd) return fd.error();
  listeners_.push_back(Listener{*fd, std::move(description), std::move(factory)});
  endpoints_.push_back(*ep);
  return {};
}

std::string Server::start() {
  if (options_.user_level_worker) return start_user_level();
  for (const auto& text : options_.listen)
    if (std::string err = open(text, "mqtt, tcp", mqtt_endpoints(broker_)); !err.empty()) return err;
  const bool extra_tls = std::any_of(options_.extra_listeners.begin(), options_.extra_listeners.end(),
                                     [](const ServerOptions::ExtraListener& e) { return e.tls; });
  if (!options_.tls_listen.empty() || extra_tls) {
    auto ctx = TlsServerContext::create(options_.tls);
    if (!ctx) return ctx.error();
    tls_context_ = *ctx;
    for (const auto& text : options_.tls_listen)
      if (std::string err = open(text, "mqtt, tls", tls_endpoints(tls_context_, mqtt_endpoints(broker_))); !err.empty())
        return err;
  }
  for (auto& extra : options_.extra_listeners) {
    EndpointFactory factory = extra.tls ? tls_endpoints(tls_context_, extra.make_endpoint) : extra.make_endpoint;
    if (std::string err = open(extra.address, extra.description, std::move(factory)); !err.empty()) return err;
  }
  if (listeners_.empty()) return "no listener configured";
  unsigned n = options_.threads ? options_.threads : 1;
  auto transport = resolve_transport(options_.transport, options_.uring);
  if (!transport) return transport.error();
  options_.transport = *transport;  // "epoll" when io_uring fell back
  for (unsigned i = 0; i < n; ++i) {
    auto w = make_worker(options_.transport, i, broker_, listeners_, options_.uring,
                         workers_.empty() ? nullptr : workers_.front().get());
    if (!w) return w.error();
    workers_.push_back(std::move(*w));
  }
  std::vector<WorkerBase*> peers;
  for (auto& w : workers_) peers.push_back(w.get());
  for (auto& w : workers_) w->set_peers(peers);
  for (auto& w : workers_) w->start();
  housekeeping_ = std::thread([this] { housekeeping_loop(); });
  for (size_t i = 0; i < listeners_.size(); ++i)
    LOG_INFO("listening on %s (%s)", format_endpoint(endpoints_[i]).c_str(), listeners_[i].description.c_str());
  LOG_INFO("%u %s worker thread(s) started", n, options_.transport.c_str());
  return {};
}

std::string Server::start_user_level() {
  auto w = options_.user_level_worker(0, broker_);
  if (!w) return w.error();
  workers_.push_back(std::move(*w));
  workers_[0]->set_peers({workers_[0].get()});
  workers_[0]->start();
  housekeeping_ = std::thread([this] { housekeeping_loop(); });
  LOG_INFO("1 %s worker thread started", options_.transport.c_str());
  return {};
}

std::vector<double> Server::worker_busy_seconds() const {
  std::vector<double> out;
  out.reserve(workers_.size());
  for (const auto& w : workers_) out.push_back(w->busy_seconds());
  return out;
}

std::string Server::reload_tls() {
  return tls_context_ ? tls_context_->reload() : std::string();
}

void Server::housekeeping_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    broker_.housekeeping(util::now());
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stopping_; });
  }
}

void Server::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (housekeeping_.joinable()) housekeeping_.join();
  for (auto& w : workers_) w->request_stop();
  for (auto& w : workers_) w->join();
  workers_.clear();
}

}  // namespace musqratt::net
