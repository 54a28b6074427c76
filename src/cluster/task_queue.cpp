#include "cluster/task_queue.h"

namespace musqratt::cluster {

TaskQueue::TaskQueue() : thread_([this] { run(); }) {}

TaskQueue::~TaskQueue() { stop(); }

void TaskQueue::post_at(util::TimePoint when, std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    tasks_.emplace(when, std::move(task));
  }
  cv_.notify_one();
}

void TaskQueue::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    tasks_.clear();
  }
  cv_.notify_one();
  if (thread_.joinable() && !on_queue_thread()) thread_.join();
}

size_t TaskQueue::pending() const {
  std::lock_guard lock(mu_);
  return tasks_.size();
}

void TaskQueue::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (tasks_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto it = tasks_.begin();
    if (it->first > util::now()) {
      // A copy: wait_until reads the deadline again after waking, and stop() may have freed
      // the task (and the key with it) meanwhile.
      const util::TimePoint due = it->first;
      cv_.wait_until(lock, due);
      continue;
    }
    std::function<void()> task = std::move(it->second);
    tasks_.erase(it);
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace musqratt::cluster
