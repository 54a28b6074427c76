#pragma once
// One thread that runs the link's blocking NATS work (JetStream API requests, key-value reads
// and writes, consumer creation) in order, so no worker thread and no NATS callback ever waits
// on the network. Tasks may be delayed (retries, checkpoints).
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "util/clock.h"

namespace musqratt::cluster {

/// Thread: post() from any thread; tasks run on the queue's own thread, in due-time order
/// (posting order among equal times). Ownership: stop() (or the destructor) drops tasks not
/// yet run and joins.
class TaskQueue {
 public:
  TaskQueue();
  ~TaskQueue();
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  void post(std::function<void()> task) { post_at(util::TimePoint{}, std::move(task)); }
  void post_after(util::Millis delay, std::function<void()> task) { post_at(util::now() + delay, std::move(task)); }
  void post_at(util::TimePoint when, std::function<void()> task);
  void stop();
  bool on_queue_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
  size_t pending() const;

 private:
  void run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<util::TimePoint, std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace musqratt::cluster
