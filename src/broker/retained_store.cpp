#include "broker/retained_store.h"

#include <mutex>

#include "protocol/topic.h"

namespace musqratt::broker {

void RetainedStore::put(const MessagePtr& msg) {
  std::unique_lock lock(mu_);
  if (msg->payload.empty()) {
    auto it = by_topic_.find(msg->topic);
    if (it != by_topic_.end()) by_topic_.erase(it);
    return;
  }
  by_topic_.insert_or_assign(msg->topic, msg);
}

void RetainedStore::for_each_matching(std::string_view filter, util::TimePoint now,
                                      const std::function<void(const MessagePtr&)>& visit) const {
  std::shared_lock lock(mu_);
  if (!protocol::has_wildcard(filter)) {
    auto it = by_topic_.find(filter);
    if (it != by_topic_.end() && !it->second->expired(now)) visit(it->second);
    return;
  }
  // Topics sharing the filter's literal prefix are contiguous in the ordered map. The prefix
  // stops before its last '/', so "sport/#" also finds "sport" itself (section 4.7.1.2).
  std::string_view prefix = filter.substr(0, filter.find_first_of("+#"));
  if (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  for (auto it = by_topic_.lower_bound(prefix); it != by_topic_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (protocol::topic_matches(filter, it->first) && !it->second->expired(now)) visit(it->second);
  }
}

size_t RetainedStore::expire(util::TimePoint now) {
  std::unique_lock lock(mu_);
  return std::erase_if(by_topic_, [&](const auto& kv) { return kv.second->expired(now); });
}

size_t RetainedStore::size() const {
  std::shared_lock lock(mu_);
  return by_topic_.size();
}

}  // namespace musqratt::broker
