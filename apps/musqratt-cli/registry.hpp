#pragma once
// The shell's named connections.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "connection.hpp"

namespace musqratt::cli {

/// Holds the shell's named connections, in creation order, and which one is current, so
/// `connect a; connect b; use a` can keep several sessions side by side while every other
/// command acts on "the current one". Used from the main thread only, except `size()`,
/// which message callbacks read to decide whether to tag arrivals with the connection.
class ConnectionRegistry {
 public:
  struct Subscription {
    std::string filter;
    int qos = 0;
  };
  struct Entry {
    std::string name;
    std::unique_ptr<Connection> connection;
    std::vector<Subscription> subscriptions;
  };

  ~ConnectionRegistry() { disconnect_all(); }

  Entry* find(const std::string& name);
  /// The current entry, or nullptr when none was connected yet.
  Entry* current() { return current_.empty() ? nullptr : find(current_); }
  /// Adds or replaces the entry `name` and makes it current. Subscriptions of a replaced
  /// entry are kept when `keep_subscriptions` (the broker resumed the session).
  Entry& put(const std::string& name, std::unique_ptr<Connection> c, bool keep_subscriptions);
  bool use(const std::string& name);
  const std::vector<std::unique_ptr<Entry>>& entries() const { return entries_; }
  std::size_t size() const { return size_.load(); }
  void disconnect_all();

 private:
  std::vector<std::unique_ptr<Entry>> entries_;
  std::string current_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace musqratt::cli
