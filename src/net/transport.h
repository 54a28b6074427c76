#pragma once
// Chooses the event loop that kernel-socket workers run: "epoll" (default) or "io_uring" (when
// built with liburing; falls back to epoll when the kernel refuses it). Every one drives the
// same broker::ClientHandler.
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "net/worker_base.h"

namespace musqratt::net {

/// The transport the workers will run: `transport` itself, or "epoll" (with a warning logged)
/// when it is "io_uring" and the kernel refuses io_uring. Fails for unknown or unbuilt ones.
std::expected<std::string, std::string> resolve_transport(const std::string& transport);
/// One worker; an "io_uring" worker whose ring cannot be created is an epoll worker instead.
std::expected<std::unique_ptr<WorkerBase>, std::string> make_worker(const std::string& transport, unsigned index,
                                                                    broker::Broker& broker,
                                                                    const std::vector<int>& listeners);

}  // namespace musqratt::net
