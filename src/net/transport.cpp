#include "net/transport.h"

#include "net/epoll_worker.h"
#include "util/log.h"
#ifdef MUSQRATT_HAVE_URING
#include "net/uring_worker.h"
#endif

namespace musqratt::net {

namespace {
#ifdef MUSQRATT_HAVE_URING
constexpr const char* kAvailable = "epoll, io_uring";
#else
constexpr const char* kAvailable = "epoll";
#endif
}  // namespace

std::expected<std::string, std::string> resolve_transport(const std::string& transport,
                                                          [[maybe_unused]] UringSettings& uring) {
  if (transport == "epoll") return transport;
  if (transport == "io_uring") {
#ifdef MUSQRATT_HAVE_URING
    auto ok = UringWorker::probe();
    if (ok && uring.sqpoll) {
      // Refused alone (EPERM under some seccomp or LSM policies, old kernels): plain rings.
      if (auto sq = UringWorker::probe_sqpoll(); !sq) {
        LOG_WARN("io_uring SQPOLL unavailable (%s): rings without SQPOLL", sq.error().c_str());
        uring.sqpoll = false;
      }
    }
    if (ok) return transport;
    LOG_WARN("io_uring unavailable (%s): falling back to epoll", ok.error().c_str());
    return std::string("epoll");
#else
    return std::unexpected(std::string("transport 'io_uring' is not available: this build was made without liburing"));
#endif
  }
  return std::unexpected("unknown transport '" + transport + "' (available: " + kAvailable + ")");
}

std::expected<std::unique_ptr<WorkerBase>, std::string> make_worker(const std::string& transport, unsigned index,
                                                                    broker::Broker& broker,
                                                                    const std::vector<Listener>& listeners,
                                                                    [[maybe_unused]] const UringSettings& uring,
                                                                    [[maybe_unused]] const WorkerBase* first) {
  if (transport == "epoll") return std::make_unique<EpollWorker>(index, broker, listeners, uring.batch_epoll,
                                         std::chrono::microseconds(uring.epoll_busy_poll_us));
  if (transport == "io_uring") {
#ifdef MUSQRATT_HAVE_URING
    auto* sibling = dynamic_cast<const UringWorker*>(first);
    auto w = UringWorker::create(index, broker, listeners, uring, sibling ? sibling->ring_fd() : -1);
    if (w) return std::move(*w);
    LOG_WARN("io_uring unavailable (%s): falling back to epoll", w.error().c_str());
    return std::make_unique<EpollWorker>(index, broker, listeners, uring.batch_epoll,
                                         std::chrono::microseconds(uring.epoll_busy_poll_us));
#else
    return std::unexpected(std::string("transport 'io_uring' is not available: this build was made without liburing"));
#endif
  }
  return std::unexpected("unknown transport '" + transport + "' (available: " + kAvailable + ")");
}

}  // namespace musqratt::net
