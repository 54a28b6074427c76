#pragma once
// Topic mapping between the local broker and the upstream, with the semantics of Mosquitto's
// `topic pattern [direction [qos [local_prefix remote_prefix]]]` bridge lines: prefixes are
// put in front of the pattern as they are (no '/' added), and replaced one by the other when
// a message crosses.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/bridge_config.h"

namespace musqratt::bridge {

/// Why a rule cannot be used, or "" if it can.
std::string check_rule(const TopicRule& r);

/// A subscription the bridge makes on one side.
struct RuleSubscription {
  std::string filter;
  uint8_t qos;
};

/// Thread: immutable after construction; any thread.
class TopicMap {
 public:
  /// `rules` must have passed check_rule().
  explicit TopicMap(std::vector<TopicRule> rules);

  /// Local filters of the out and both rules (the bridge's own session subscribes to them).
  std::vector<RuleSubscription> local_subscriptions() const;
  /// Upstream filters of the in and both rules.
  std::vector<RuleSubscription> remote_subscriptions() const;
  /// The upstream topic for a local message (the first out/both rule whose local filter
  /// matches it), or nullopt when none does.
  std::optional<std::string> to_remote(std::string_view local_topic) const;
  /// The local topic for a message from the upstream (the first in/both rule).
  std::optional<std::string> to_local(std::string_view remote_topic) const;

  const std::vector<TopicRule>& rules() const { return rules_; }

 private:
  struct Compiled {
    std::string local_filter;   // local_prefix + filter (or local_prefix alone)
    std::string remote_filter;  // remote_prefix + filter
    size_t rule;                // index in rules_
  };
  static std::optional<std::string> replace_prefix(std::string_view topic, std::string_view from, std::string_view to);

  std::vector<TopicRule> rules_;
  std::vector<Compiled> out_;
  std::vector<Compiled> in_;
};

}  // namespace musqratt::bridge
