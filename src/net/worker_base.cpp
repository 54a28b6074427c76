#include "net/worker_base.h"

#include "broker/stats.h"

namespace musqratt::net {

namespace {
thread_local WorkerBase* t_current = nullptr;
}

void WorkerBase::set_peers(std::vector<WorkerBase*> peers) {
  peers_ = std::move(peers);
  remote_batches_.assign(peers_.size(), {});
}

void WorkerBase::start() {
  thread_ = std::thread([this] {
    t_current = this;
    broker::Stats::set_thread_slot(index_ + 1);
    run();
    t_current = nullptr;
  });
}

void WorkerBase::request_stop() {
  stop_.store(true);
  notify();
}

void WorkerBase::join() {
  if (thread_.joinable()) thread_.join();
}

void WorkerBase::wake(uint64_t token) {
  if (t_current == this) {
    local_wakes_.push_back(token);
  } else if (t_current != nullptr) {
    t_current->remote_batches_[index_].push_back(token);
  } else {
    post({token});
  }
}

void WorkerBase::post(const std::vector<uint64_t>& tokens) {
  bool was_empty;
  {
    std::lock_guard lock(inbox_mu_);
    was_empty = inbox_.empty();
    inbox_.insert(inbox_.end(), tokens.begin(), tokens.end());
  }
  if (was_empty) notify();
}

void WorkerBase::take_inbox(std::vector<uint64_t>& out) {
  std::lock_guard lock(inbox_mu_);
  out.swap(inbox_);
}


void WorkerBase::run_local_work(util::TimePoint now) {
  while (!local_wakes_.empty()) {
    local_swap_.swap(local_wakes_);
    process_wakes(local_swap_, now);
    local_swap_.clear();
  }
  if (now >= next_tick_) {
    tick(now);
    next_tick_ = now + util::Millis(500);
  }
}

void WorkerBase::flush_remote_wakes() {
  for (size_t i = 0; i < remote_batches_.size(); ++i) {
    if (remote_batches_[i].empty()) continue;
    peers_[i]->post(remote_batches_[i]);
    remote_batches_[i].clear();
  }
}

}  // namespace musqratt::net
