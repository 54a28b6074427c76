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
  for (const Listener& l : listeners_)
    if (l.fd >= 0) close(l.fd);
}

namespace {
// Slots are never reused, and a slot's event tag must stay below the workers' connection
// tokens: after this many listeners opened in one run, a reload asks for a restart.
constexpr size_t kMaxListenerSlots = 60000;
}  // namespace

std::vector<Server::Wanted> Server::wanted(const std::vector<std::string>& listen,
                                           const std::vector<std::string>& tls_listen,
                                           std::vector<ServerOptions::ExtraListener> extra) const {
  std::vector<Wanted> out;
  for (const auto& a : listen) out.push_back({a, "mqtt, tcp", mqtt_endpoints(broker_), false});
  for (const auto& a : tls_listen) out.push_back({a, "mqtt, tls", mqtt_endpoints(broker_), true});
  for (auto& e : extra) out.push_back({e.address, e.description, std::move(e.make_endpoint), e.tls});
  return out;
}

std::string Server::open(const Wanted& w) {
  if (listeners_.size() >= kMaxListenerSlots) return "too many listeners opened since start; restart to open " + w.key();
  if (w.tls && !tls_context_) {
    auto ctx = TlsServerContext::create(options_.tls);
    if (!ctx) return ctx.error();
    tls_context_ = *ctx;
  }
  auto ep = parse_endpoint(w.address);
  if (!ep) return ep.error();
  auto fd = open_listener(*ep);
  if (!fd) return fd.error();
  EndpointFactory factory = w.tls ? tls_endpoints(tls_context_, w.factory) : w.factory;
  listeners_.push_back(Listener{*fd, w.description, std::move(factory), options_.accepted});
  keys_.push_back(w.key());
  endpoints_.push_back(*ep);
  return {};
}

std::string Server::start() {
  if (options_.user_level_worker) return start_user_level();
  for (const Wanted& w : wanted(options_.listen, options_.tls_listen, std::move(options_.extra_listeners)))
    if (std::string err = open(w); !err.empty()) return err;
  options_.extra_listeners.clear();
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

std::vector<Server::WorkerFigures> Server::worker_figures() const {
  std::vector<WorkerFigures> out;
  out.reserve(workers_.size());
  for (const auto& w : workers_) out.push_back({w->busy_seconds(), w->connections()});
  return out;
}

std::string Server::reload_tls() {
  return tls_context_ ? tls_context_->reload() : std::string();
}

void Server::retire(size_t slot) {
  // Each worker answers once it no longer waits on the socket (an io_uring accept must be
  // cancelled first); a worker's loop turn is at most 250 ms, so seconds mean it is stuck.
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    size_t left;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = workers_.size();
  for (auto& w : workers_) {
    WorkerBase* worker = w.get();
    worker->post_task([worker, slot, pending](util::TimePoint) {
      worker->remove_listener(slot, [pending] {
        std::lock_guard lock(pending->mu);
        if (--pending->left == 0) pending->cv.notify_all();
      });
    });
  }
  std::unique_lock lock(pending->mu);
  if (!pending->cv.wait_for(lock, std::chrono::seconds(5), [&] { return pending->left == 0; }))
    LOG_WARN("listener %s: %zu worker(s) did not let go of it within 5 s; closing it anyway", keys_[slot].c_str(),
             pending->left);
  close(listeners_[slot].fd);
  listeners_[slot].fd = -1;
  keys_[slot].clear();
}

std::vector<std::string> Server::update_listeners(const std::vector<std::string>& listen,
                                                  const std::vector<std::string>& tls_listen,
                                                  std::vector<ServerOptions::ExtraListener> extra) {
  if (options_.user_level_worker) {
    return {"listeners cannot change while the " + options_.transport + " transport runs: restart to change them"};
  }
  std::vector<Wanted> next = wanted(listen, tls_listen, std::move(extra));
  auto in_next = [&](const std::string& key) {
    return std::any_of(next.begin(), next.end(), [&](const Wanted& w) { return w.key() == key; });
  };
  // Those that go first, so a new listener may take over an address an old one leaves.
  for (size_t slot = 0; slot < listeners_.size(); ++slot) {
    if (keys_[slot].empty() || in_next(keys_[slot])) continue;
    const std::string key = keys_[slot];
    retire(slot);
    LOG_INFO("SIGHUP: stopped listening on %s; its connections stay", key.c_str());
  }
  std::vector<std::string> errors;
  for (const Wanted& w : next) {
    const std::string key = w.key();
    if (std::find(keys_.begin(), keys_.end(), key) != keys_.end()) continue;  // kept (or listed twice)
    if (std::string err = open(w); !err.empty()) {
      errors.push_back(key + ": " + err);
      continue;
    }
    const size_t slot = listeners_.size() - 1;
    for (auto& worker : workers_) {
      WorkerBase* wp = worker.get();
      Listener copy = listeners_[slot];
      wp->post_task([wp, copy = std::move(copy)](util::TimePoint) mutable { wp->add_listener(std::move(copy)); });
    }
    LOG_INFO("SIGHUP: listening on %s (%s)", format_endpoint(endpoints_[slot]).c_str(), w.description.c_str());
  }
  return errors;
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
