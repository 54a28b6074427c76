#include "net/transport.h"

#include "net/epoll_worker.h"

namespace musqratt::net {

std::expected<std::unique_ptr<WorkerBase>, std::string> make_worker(const std::string& transport, unsigned index,
                                                                    broker::Broker& broker,
                                                                    const std::vector<int>& listeners) {
  if (transport == "epoll") return std::make_unique<EpollWorker>(index, broker, listeners);
  return std::unexpected("unknown transport '" + transport + "' (available: epoll)");
}

}  // namespace musqratt::net
