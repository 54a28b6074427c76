#include "bridge/topic_mapping.h"

#include "protocol/topic.h"

namespace musqratt::bridge {

namespace pr = protocol;

const char* direction_name(Direction d) {
  switch (d) {
    case Direction::Out: return "out";
    case Direction::In: return "in";
    case Direction::Both: return "both";
  }
  return "?";
}

const char* buffer_full_name(BufferFull b) { return b == BufferFull::DropOldest ? "drop_oldest" : "drop_newest"; }

std::string check_rule(const TopicRule& r) {
  if (r.qos > 2) return "qos must be 0, 1 or 2";
  for (const std::string* p : {&r.local_prefix, &r.remote_prefix}) {
    const char* which = p == &r.local_prefix ? "local_prefix" : "remote_prefix";
    // A prefix is put in front of topic names as it is: a wildcard there would make the
    // names published with it invalid (and Mosquitto refuses it too).
    if (pr::has_wildcard(*p)) return std::string(which) + " '" + *p + "' contains a wildcard (+ or #)";
    if (p->find('\0') != std::string::npos) return std::string(which) + " contains a NUL character";
  }
  if (r.filter.empty()) {
    // One topic mapped to another: both prefixes are the full topic names.
    if (r.local_prefix.empty() || r.remote_prefix.empty())
      return "an empty filter maps one topic to another: local_prefix and remote_prefix must both be set";
    if (!pr::valid_topic_name(r.local_prefix) || !pr::valid_topic_name(r.remote_prefix))
      return "local_prefix and remote_prefix must be valid topic names";
    return {};
  }
  if (pr::parse_shared_filter(r.filter)) return "filter '" + r.filter + "' is a shared subscription ($share/...)";
  if (!pr::valid_topic_filter(r.filter)) return "filter '" + r.filter + "' is not a valid topic filter";
  if (!pr::valid_topic_filter(r.local_prefix + r.filter))
    return "local_prefix + filter ('" + r.local_prefix + r.filter + "') is not a valid topic filter";
  if (!pr::valid_topic_filter(r.remote_prefix + r.filter))
    return "remote_prefix + filter ('" + r.remote_prefix + r.filter + "') is not a valid topic filter";
  return {};
}

TopicMap::TopicMap(std::vector<TopicRule> rules) : rules_(std::move(rules)) {
  for (size_t i = 0; i < rules_.size(); ++i) {
    const TopicRule& r = rules_[i];
    Compiled c{r.local_prefix + r.filter, r.remote_prefix + r.filter, i};
    if (r.direction != Direction::In) out_.push_back(c);
    if (r.direction != Direction::Out) in_.push_back(c);
  }
}

std::vector<RuleSubscription> TopicMap::local_subscriptions() const {
  std::vector<RuleSubscription> out;
  for (const Compiled& c : out_) out.push_back({c.local_filter, rules_[c.rule].qos});
  return out;
}

std::vector<RuleSubscription> TopicMap::remote_subscriptions() const {
  std::vector<RuleSubscription> out;
  for (const Compiled& c : in_) out.push_back({c.remote_filter, rules_[c.rule].qos});
  return out;
}

std::optional<std::string> TopicMap::replace_prefix(std::string_view topic, std::string_view from, std::string_view to) {
  if (topic.starts_with(from)) {
    std::string out(to);
    out.append(topic.substr(from.size()));
    if (!pr::valid_topic_name(out)) return std::nullopt;
    return out;
  }
  // "a/#" also matches "a" itself [MQTT-4.7.1-2, 3.1.1]: prefix "a/" then stands for "a".
  if (!from.empty() && from.back() == '/' && topic == from.substr(0, from.size() - 1)) {
    std::string out(to);
    if (!out.empty() && out.back() == '/') out.pop_back();
    if (!pr::valid_topic_name(out)) return std::nullopt;
    return out;
  }
  return std::nullopt;
}

std::optional<std::string> TopicMap::to_remote(std::string_view local_topic) const {
  for (const Compiled& c : out_) {
    if (!pr::topic_matches(c.local_filter, local_topic)) continue;
    if (auto t = replace_prefix(local_topic, rules_[c.rule].local_prefix, rules_[c.rule].remote_prefix)) return t;
  }
  return std::nullopt;
}

std::optional<std::string> TopicMap::to_local(std::string_view remote_topic) const {
  for (const Compiled& c : in_) {
    if (!pr::topic_matches(c.remote_filter, remote_topic)) continue;
    if (auto t = replace_prefix(remote_topic, rules_[c.rule].remote_prefix, rules_[c.rule].local_prefix)) return t;
  }
  return std::nullopt;
}

}  // namespace musqratt::bridge
