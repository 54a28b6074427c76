#include "net/worker_base.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "broker/stats.h"
#include "util/memory_release.h"

namespace musqratt::net {

namespace {
thread_local WorkerBase* t_current = nullptr;
}

void WorkerBase::set_peers(std::vector<WorkerBase*> peers) {
  peers_ = std::move(peers);
  remote_batches_.assign(peers_.size(), {});
}

void WorkerBase::start() {
  std::promise<void> prepared;
  std::future<void> done = prepared.get_future();
  thread_ = std::thread([this, &prepared] {
    t_current = this;
    broker::Stats::set_thread_slot(index_ + 1);
    prepare();
    prepared.set_value();  // `prepared` lives on start()'s stack: not touched after this
    run();
    t_current = nullptr;
  });
  done.wait();
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
  } else if (t_current != nullptr && index_ < t_current->peers_.size() && t_current->peers_[index_] == this) {
    t_current->remote_batches_[index_].push_back(token);
  } else {
    post({token});  // from a thread that is no worker, or a worker that does not batch for this one
  }
}

void WorkerBase::post_task(Task task) {
  bool was_empty;
  {
    std::lock_guard lock(inbox_mu_);
    was_empty = tasks_.empty() && inbox_.empty();
    tasks_.push_back(std::move(task));
    has_tasks_.store(true, std::memory_order_release);
  }
  if (was_empty) notify();
}

uint64_t WorkerBase::add_timer(util::TimePoint when, Task task) {
  uint64_t id = next_timer_id_++;
  timers_.emplace(std::make_pair(when, id), std::move(task));
  return id;
}

void WorkerBase::cancel_timer(uint64_t id) {
  std::erase_if(timers_, [id](const auto& t) { return t.first.second == id; });
}

util::Millis WorkerBase::wait_budget(util::Millis longest) const {
  if (timers_.empty()) return longest;  // most workers: no clock read
  util::TimePoint now = util::now();
  util::TimePoint due = timers_.begin()->first.first;
  if (due <= now) return util::Millis(0);
  // Rounded up: waking a little early would only spin.
  auto left = std::chrono::ceil<util::Millis>(due - now);
  return std::min(left, longest);
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
  if (has_tasks_.load(std::memory_order_acquire)) {
    std::vector<Task> tasks;
    {
      std::lock_guard lock(inbox_mu_);
      tasks.swap(tasks_);
      has_tasks_.store(false, std::memory_order_relaxed);
    }
    for (Task& t : tasks) t(now);
  }
  while (!timers_.empty() && timers_.begin()->first.first <= now) {
    Task t = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    t(now);  // may add timers
  }
  while (!local_wakes_.empty()) {
    local_swap_.swap(local_wakes_);
    process_wakes(local_swap_, now);
    local_swap_.clear();
  }
  if (now >= next_tick_) {
    tick(now);
    util::release_free_memory_if_asked();  // frees that other threads returned to this one's heap
    next_tick_ = now + kTickPeriod;
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
