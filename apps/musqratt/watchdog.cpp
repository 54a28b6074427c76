#include "watchdog.h"

#include <dirent.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/log.h"

namespace musqratt::app {

namespace {
std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();  // empty when the file cannot be read (the thread is gone)
}
}  // namespace

ThreadSample sample_thread(pid_t tid) {
  ThreadSample s;
  const std::string dir = "/proc/self/task/" + std::to_string(tid) + "/";
  std::string stat = read_file(dir + "stat");
  // "TID (comm) STATE ...": comm may hold spaces and parentheses; the state follows the last ')'.
  size_t close = stat.rfind(')');
  if (stat.empty() || close == std::string::npos || close + 2 >= stat.size()) return s;
  s.exists = true;
  s.state = stat[close + 2];
  std::string sc = read_file(dir + "syscall");
  if (sc.rfind("running", 0) == 0) s.syscall = -1;
  else if (!sc.empty()) s.syscall = strtol(sc.c_str(), nullptr, 10);
  std::istringstream status(read_file(dir + "status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
      s.switches += strtoull(line.c_str() + line.find(':') + 1, nullptr, 10);
  }
  return s;
}

std::vector<pid_t> process_threads() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc/self/task");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::string comm = read_file(std::string("/proc/self/task/") + e->d_name + "/comm");
    if (comm.rfind("iou-", 0) == 0) continue;
    out.push_back(static_cast<pid_t>(atoi(e->d_name)));
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool no_progress(const ThreadSample& before, const ThreadSample& after) {
  if (!after.exists) return true;
  if (!before.exists) return false;
  const bool on_lock = after.syscall == SYS_futex && before.syscall == SYS_futex;
  return on_lock && after.switches == before.switches;
}

Watchdog::Watchdog(std::chrono::microseconds interval, std::vector<pid_t> watched, std::function<void()> ping)
    : period_(interval / 2), watched_(std::move(watched)), ping_(std::move(ping)) {
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Watchdog::run() {
  using Clock = std::chrono::steady_clock;
  const auto threshold = std::max<Clock::duration>(period_, std::chrono::seconds(1));
  std::vector<ThreadSample> last;
  std::vector<Clock::time_point> stalled_since(watched_.size());  // epoch = making progress
  for (pid_t t : watched_) last.push_back(sample_thread(t));
  bool healthy = true;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    if (healthy) ping_();
    lock.lock();
    if (cv_.wait_for(lock, period_, [this] { return stopping_; })) break;
    lock.unlock();
    const auto now = Clock::now();
    for (size_t i = 0; i < watched_.size() && healthy; ++i) {
      ThreadSample sample = sample_thread(watched_[i]);
      if (!no_progress(last[i], sample)) {
        stalled_since[i] = {};
      } else if (stalled_since[i] == Clock::time_point{}) {
        stalled_since[i] = now - period_;  // no progress since the previous sample at least
      }
      if (!sample.exists || (stalled_since[i] != Clock::time_point{} && now - stalled_since[i] >= threshold)) {
        healthy = false;
        LOG_ERROR("watchdog: thread %d %s: no more watchdog pings (the service manager will restart the broker)",
                  static_cast<int>(watched_[i]), sample.exists ? "has been blocked on a lock without running" : "is gone");
      }
      last[i] = sample;
    }
    lock.lock();
  }
}

}  // namespace musqratt::app
