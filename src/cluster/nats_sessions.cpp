// NatsLink: one client id, one session, cluster-wide (phase in progress: hooks only).
#include "cluster/nats_link.h"

namespace musqratt::cluster {

bool NatsLink::resume(const std::string&, broker::Link) { return false; }
void NatsLink::connected(const std::shared_ptr<broker::Session>&, bool) {}
void NatsLink::disconnected(const std::shared_ptr<broker::Session>&) {}
void NatsLink::ended(const std::string&) {}

}  // namespace musqratt::cluster
