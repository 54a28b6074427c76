#include "cluster/interest_table.h"

namespace musqratt::cluster {

bool InterestTable::add(const std::string& key) {
  std::lock_guard lock(mu_);
  return ++counts_[key] == 1;
}

bool InterestTable::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  if (it == counts_.end()) return false;
  if (--it->second > 0) return false;
  counts_.erase(it);
  return true;
}

uint32_t InterestTable::count(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(key);
  return it == counts_.end() ? 0 : it->second;
}

std::vector<std::string> InterestTable::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(counts_.size());
  for (const auto& [k, n] : counts_) out.push_back(k);
  return out;
}

size_t InterestTable::size() const {
  std::lock_guard lock(mu_);
  return counts_.size();
}

}  // namespace musqratt::cluster
