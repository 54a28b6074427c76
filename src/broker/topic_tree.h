#pragma once
// The subscription index: a tree with one node per topic level. Publishing walks it once per
// message under a shared lock; SUBSCRIBE/UNSUBSCRIBE take the exclusive lock, and a node with
// no subscriptions and no children is removed at once, so a topic disappears with its last
// subscriber.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/packets.h"
#include "util/fnv1a.h"

namespace musqratt::broker {

class Session;

struct Subscriber {
  std::shared_ptr<Session> session;
  protocol::SubscribeOptions options;
  uint32_t subscription_id = 0;
};

/// A match found while routing: a plain subscriber, or one member chosen from a shared group.
struct Match {
  Subscriber sub;
  std::shared_ptr<const std::string> share_filter;  // full "$share/g/f" for shared matches
};

/// Thread: all methods are safe from any thread. Lookups copy matches out under the shared lock
/// and deliver after releasing it, so a slow delivery never holds back SUBSCRIBE.
class TopicTree {
 public:
  TopicTree();
  ~TopicTree();

  /// Adds or replaces the session's subscription to `filter` (which may be "$share/g/f").
  /// Returns true if it was new.
  bool subscribe(const std::string& filter, const Subscriber& sub);
  bool unsubscribe(const std::string& filter, const Session* session);

  /// Appends to `out` each plain subscription matching `topic` and one chosen member of each
  /// matching shared group; `prefer_member` ranks shared members (e.g. online first).
  void collect_matches(std::string_view topic, std::vector<Match>& out,
                       const std::function<bool(const Session*)>& prefer_member) const;

  /// Chooses a member of one shared group other than `exclude`, for messages a leaving member
  /// had not finished (5.0 section 4.8.2 asks this for QoS 1 messages; a statement without id).
  /// Returns false if the group has no other member.
  bool pick_shared_member(const std::string& share_filter, const Session* exclude, Match& out) const;

  bool has_subscribers(std::string_view topic) const;
  size_t node_count() const { return nodes_.load(std::memory_order_relaxed); }
  size_t subscription_count() const { return subscriptions_.load(std::memory_order_relaxed); }

 private:
  struct SharedGroup;
  struct Node;
  /// Lets the children maps be searched with a string_view, without building a string per level.
  struct LevelHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return static_cast<size_t>(util::fnv1a(s)); }
  };
  Node* find_node(std::string_view filter) const;
  void prune(Node* node);

  mutable std::shared_mutex mu_;
  std::unique_ptr<Node> root_;
  // Moves on (under the exclusive lock) whenever a node is made or removed: the routes that
  // threads remember (topic_route_cache.h) are valid for one generation.
  uint64_t generation_;
  std::atomic<size_t> nodes_{0};
  std::atomic<size_t> subscriptions_{0};
};

}  // namespace musqratt::broker
