#pragma once
// Liveness pings for the service manager (WatchdogSec=). A thread checks, every half watchdog
// interval, that the threads the server started (its workers and its housekeeping thread) are
// alive, and only then sends WATCHDOG=1; if one of them died or has been blocked on a lock
// without running since the previous check, the pings stop and systemd restarts the service.
//
// The check reads /proc/self/task/TID/{stat,syscall,status}: a thread waiting for I/O
// (epoll_wait, io_uring_enter) is idle, not stuck; one blocked in futex(2) without a single
// context switch for a whole check period, and at least a second (the housekeeping thread's
// timed waits end four times a second), is taken for a deadlock. A thread spinning without end
// is not detected this way.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace musqratt::app {

/// One look at a thread.
struct ThreadSample {
  bool exists = false;
  char state = '?';            // R, S, D, ... from /proc/self/task/TID/stat
  long syscall = -2;           // the system call it is blocked in; -1 = running; -2 = unknown
  uint64_t switches = 0;       // voluntary + involuntary context switches so far
};

ThreadSample sample_thread(pid_t tid);
/// Threads of this process, except the kernel's io_uring helper threads ("iou-*"), which come
/// and go on their own.
std::vector<pid_t> process_threads();
/// Dead, or blocked on a lock without running between the two samples.
bool no_progress(const ThreadSample& before, const ThreadSample& after);

/// Thread: constructed and destroyed by the main thread; runs its own thread in between.
/// Ownership: `ping` is called from that thread.
class Watchdog {
 public:
  Watchdog(std::chrono::microseconds interval, std::vector<pid_t> watched, std::function<void()> ping);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  void run();
  const std::chrono::microseconds period_;
  const std::vector<pid_t> watched_;
  const std::function<void()> ping_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace musqratt::app
