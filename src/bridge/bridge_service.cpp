#include "bridge/bridge_service.h"

#include <algorithm>

#include "bridge/bridge.h"
#include "net/tls.h"
#include "util/log.h"

namespace musqratt::bridge {

void discard_unconfigured_buffers(broker::Broker& broker, const std::vector<BridgeConfig>& configs) {
  // Buffers of bridges removed from the configuration would grow for ever: they go, and say so.
  for (const std::string& id : broker.client_ids_with_prefix("$bridge/")) {
    bool configured = std::any_of(configs.begin(), configs.end(), [&](const BridgeConfig& c) { return session_client_id(c) == id; });
    if (configured) continue;
    LOG_WARN("bridge '%s' is no longer configured: its buffer is discarded", id.substr(8).c_str());
    broker.discard_session(id);
  }
}

BridgeService::BridgeService(broker::Broker& broker, std::vector<BridgeConfig> configs, unsigned worker_index)
    : broker_(broker), configs_(std::move(configs)), worker_index_(worker_index) {}

BridgeService::~BridgeService() { stop(); }

std::string BridgeService::start() {
  const util::TimePoint now = util::now();
  worker_ = std::make_unique<net::EpollWorker>(worker_index_, broker_, std::vector<net::Listener>{});
  for (const BridgeConfig& c : configs_) {
    std::shared_ptr<SSL_CTX> tls;
    if (c.tls) {
      auto ctx = net::make_tls_client_context(net::TlsClientSettings{c.tls_ca, c.tls_cert, c.tls_key});
      if (!ctx) return "[[bridge]] '" + c.name + "': " + ctx.error();
      tls = *ctx;
    }
    bridges_.push_back(std::make_shared<Bridge>(c, broker_, *worker_, resolver_, tls));
  }
  discard_unconfigured_buffers(broker_, configs_);
  for (auto& b : bridges_) b->prepare(now);
  {
    std::lock_guard lock(board_->mu);
    board_->bridges = bridges_;
  }
  broker_.add_sys_source([board = board_](util::TimePoint t) {
    std::lock_guard lock(board->mu);
    for (const auto& b : board->bridges) b->publish_status(t);
  });
  for (auto& b : bridges_) b->publish_status(now);
  worker_->start();
  for (auto& b : bridges_) {
    Bridge* raw = b.get();
    worker_->post_task([raw](util::TimePoint t) { raw->start(t); });
  }
  started_ = true;
  LOG_INFO("%zu bridge(s) started", bridges_.size());
  return {};
}

void BridgeService::stop() {
  if (!started_) return;
  started_ = false;
  for (auto& b : bridges_) b->request_stop();
  resolver_.stop();  // no answer arrives after this
  worker_->request_stop();
  worker_->join();  // its connections say goodbye upstream and close
  {
    std::lock_guard lock(board_->mu);
    board_->bridges.clear();
  }
  worker_.reset();
  bridges_.clear();
}

std::vector<BridgeService::Figures> BridgeService::figures() const {
  std::vector<Figures> out;
  std::lock_guard lock(board_->mu);
  for (const auto& b : board_->bridges) out.push_back({b->config().name, b->status().state.load(), b->backlog()});
  return out;
}

}  // namespace musqratt::bridge
