#pragma once
// Retained messages, one per topic (section 3.3.1.3). Read on SUBSCRIBE, written on PUBLISH
// with RETAIN; an empty payload removes the topic's message ([MQTT-3.3.1-6, 5.0],
// [MQTT-3.3.1-10, 3.1.1]).
#include <functional>
#include <map>
#include <shared_mutex>
#include <string>

#include "broker/message.h"

namespace musqratt::broker {

/// Thread: safe from any thread (shared_mutex inside).
class RetainedStore {
 public:
  /// Stores `msg` for its topic, or removes the topic's message if the payload is empty.
  void put(const MessagePtr& msg);
  /// Calls `visit` for every unexpired retained message whose topic matches `filter`.
  void for_each_matching(std::string_view filter, util::TimePoint now,
                         const std::function<void(const MessagePtr&)>& visit) const;
  /// Drops expired messages; returns how many.
  size_t expire(util::TimePoint now);
  size_t size() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, MessagePtr, std::less<>> by_topic_;
};

}  // namespace musqratt::broker
