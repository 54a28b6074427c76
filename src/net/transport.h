#pragma once
// Chooses the event loop that kernel-socket workers run: "epoll" (default) or "io_uring" (when
// built with liburing; falls back to epoll when the kernel refuses it). Every one drives the
// same broker::SessionDriver.
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "net/listener.h"
#include "net/worker_base.h"

namespace musqratt::net {

/// io_uring ring options (each says which transport it is for).
struct UringSettings {
  /// IORING_SETUP_SQPOLL: a kernel thread polls the submission queue, so a busy loop submits
  /// without system calls; it sleeps after `sqpoll_idle_ms` without work and is woken by the
  /// next submission (liburing enters the kernel only when IORING_SQ_NEED_WAKEUP is set).
  bool sqpoll = false;
  unsigned sqpoll_idle_ms = 1000;
  /// For the epoll transport: a turn's reads, then its sends, in one io_uring_enter each
  /// (net::IoBatch) rather than a system call per connection.
  bool batch_epoll = true;
  /// For the epoll transport: how long a worker polls for input before sleeping after a turn
  /// that read or wrote a stream's worth (net::BusyPoll); zero = never.
  unsigned epoll_busy_poll_us = 50;
};

/// The transport the workers will run: `transport` itself, or "epoll" (with a warning logged)
/// when it is "io_uring" and the kernel refuses io_uring. Fails for unknown or unbuilt ones.
/// Clears `uring.sqpoll` (with a warning logged) when the kernel refuses SQPOLL rings.
std::expected<std::string, std::string> resolve_transport(const std::string& transport, UringSettings& uring);
/// One worker; an "io_uring" worker whose ring cannot be created is an epoll worker instead.
/// `first` is the first worker made, if any: SQPOLL rings share its kernel polling thread.
std::expected<std::unique_ptr<WorkerBase>, std::string> make_worker(const std::string& transport, unsigned index,
                                                                    broker::Broker& broker,
                                                                    const std::vector<Listener>& listeners,
                                                                    const UringSettings& uring,
                                                                    const WorkerBase* first);

}  // namespace musqratt::net
