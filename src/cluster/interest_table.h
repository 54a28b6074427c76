#pragma once
// This node's interest: how many local subscriptions there are to each filter (or shared
// subscription "$share/g/f"). The node subscribes on NATS to a filter while its count is above
// zero; only the first subscription and the last unsubscription change anything there.
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace musqratt::cluster {

/// Thread: any (a mutex inside).
class InterestTable {
 public:
  /// One more local subscription to `key`; true if it is the first.
  bool add(const std::string& key);
  /// One fewer; true if it was the last (an unknown key changes nothing and returns false).
  bool remove(const std::string& key);
  uint32_t count(const std::string& key) const;
  /// Keys with a count above zero.
  std::vector<std::string> keys() const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint32_t> counts_;
};

}  // namespace musqratt::cluster
