#pragma once
// Chooses the event loop that kernel-socket workers run: "epoll" (default) or others as they
// are built. Every one drives the same broker::ClientHandler.
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "net/worker_base.h"

namespace musqratt::net {

std::expected<std::unique_ptr<WorkerBase>, std::string> make_worker(const std::string& transport, unsigned index,
                                                                    broker::Broker& broker,
                                                                    const std::vector<int>& listeners);

}  // namespace musqratt::net
