#include "net/accept_throttle.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/log.h"

namespace musqratt::net {

namespace {
constexpr util::Millis kFirstPause{10};
constexpr util::Millis kMaxPause{1000};
constexpr util::Seconds kLogInterval{1};
}  // namespace

AcceptThrottle::AcceptThrottle() { reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC); }

AcceptThrottle::~AcceptThrottle() {
  if (reserve_fd_ >= 0) close(reserve_fd_);
}

bool AcceptThrottle::is_exhaustion(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

void AcceptThrottle::on_exhausted(int listener, int err, broker::Stats& stats, util::TimePoint now) {
  uint64_t refused = 0;
  if ((err == EMFILE || err == ENFILE) && reserve_fd_ >= 0) {
    // The reserve descriptor makes room for exactly one accept; the connection is closed at
    // once (an orderly close, so its client is told rather than left waiting).
    close(reserve_fd_);
    reserve_fd_ = -1;
    int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      close(fd);
      refused = 1;
    }
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  stats.add(broker::Counter::ConnectionsRefusedExhausted, static_cast<int64_t>(std::max<uint64_t>(refused, 1)));
  refused_since_log_ += std::max<uint64_t>(refused, 1);
  backoff_ = backoff_.count() == 0 ? kFirstPause : std::min(backoff_ * 2, kMaxPause);
  resume_at_ = now + backoff_;
  if (now >= next_log_) {
    LOG_WARN("accept: %s: refusing new connections for now (%llu refused since the last report; existing "
             "connections are served; accepting resumes by itself)",
             strerror(err), static_cast<unsigned long long>(refused_since_log_));
    refused_since_log_ = 0;
    next_log_ = now + kLogInterval;
  }
}

}  // namespace musqratt::net
