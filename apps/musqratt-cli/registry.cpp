#include "registry.hpp"

namespace musqratt::cli {

ConnectionRegistry::Entry* ConnectionRegistry::find(const std::string& name) {
  for (auto& e : entries_)
    if (e->name == name) return e.get();
  return nullptr;
}

ConnectionRegistry::Entry& ConnectionRegistry::put(const std::string& name,
                                                   std::unique_ptr<Connection> c,
                                                   bool keep_subscriptions) {
  Entry* e = find(name);
  if (!e) {
    entries_.push_back(std::make_unique<Entry>());
    e = entries_.back().get();
    e->name = name;
    size_ = entries_.size();
  } else if (!keep_subscriptions) {
    e->subscriptions.clear();
  }
  e->connection = std::move(c);
  current_ = name;
  return *e;
}

bool ConnectionRegistry::use(const std::string& name) {
  if (!find(name)) return false;
  current_ = name;
  return true;
}

void ConnectionRegistry::disconnect_all() {
  for (auto& e : entries_)
    if (e->connection) e->connection->disconnect();
}

}  // namespace musqratt::cli
