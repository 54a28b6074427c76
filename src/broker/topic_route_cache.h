#pragma once
// A per-thread memo of the subscription tree's walk: topic name -> the tree nodes whose
// subscribers receive it. Publishers send to the same few topics over and over, and walking the
// tree level by level (a hash lookup per level, the '+' and '#' branches) was a fifth of the
// instructions of a QoS 1 message; a hit costs one hash of the topic and one comparison.
//
// What is remembered are nodes, not subscribers: adding or removing a subscriber on an existing
// node changes what those nodes hold, which the caller reads live under the tree's lock, but not
// which nodes match. Only creating or removing a node can change that, and the tree then moves to
// a new generation; entries of any other generation are misses. Generations are drawn from one
// process-wide counter, so an entry filled from one tree never answers for another tree used on
// the same thread (tests build many).
//
// Bounded and allocation-free after the first use: a direct-mapped table of fixed slots, each
// holding its topic inline. Topics longer than a slot holds, and topics reaching more than
// kMaxNodes nodes, are walked every time.
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

#include "util/fnv1a.h"

namespace musqratt::broker {

/// A new generation, never handed out before in this process (0 is never returned: it marks an
/// empty slot).
inline uint64_t next_route_generation() {
  static std::atomic<uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

template <typename Node>
class TopicRouteCache {
 public:
  static constexpr size_t kSlots = 4096;  // a power of two
  static constexpr size_t kMaxNodes = 4;
  static constexpr size_t kMaxTopic = 86;  // makes a slot 128 bytes, two cache lines

  /// The nodes remembered for `topic` under `generation`, or an empty span on a miss. Valid until
  /// the next call.
  std::span<const Node* const> find(std::string_view topic, uint64_t hash, uint64_t generation) const {
    if (!slots_ || topic.size() > kMaxTopic) return {};
    const Slot& s = slots_[hash & (kSlots - 1)];
    // An empty slot has generation 0, which no tree has, and store() never keeps an empty list.
    if (s.generation != generation || s.length != topic.size() ||
        std::memcmp(s.topic, topic.data(), topic.size()) != 0)
      return {};
    return {s.nodes, s.count};
  }

  /// Remembers `nodes` (at least one, at most kMaxNodes) for `topic`, replacing what shared the
  /// slot. Topics or lists too long for a slot are not remembered.
  void store(std::string_view topic, uint64_t hash, uint64_t generation, std::span<const Node* const> nodes) {
    if (topic.size() > kMaxTopic || nodes.empty() || nodes.size() > kMaxNodes) return;
    if (!slots_) {
      // calloc: zeroed slots (generation 0, empty) without touching the pages, so a thread that
      // routes to few topics keeps only the pages of the slots it used.
      slots_.reset(static_cast<Slot*>(std::calloc(kSlots, sizeof(Slot))));
      if (!slots_) return;
    }
    Slot& s = slots_[hash & (kSlots - 1)];
    s.generation = generation;
    s.length = static_cast<uint8_t>(topic.size());
    s.count = static_cast<uint8_t>(nodes.size());
    std::memcpy(s.topic, topic.data(), topic.size());
    for (size_t i = 0; i < nodes.size(); ++i) s.nodes[i] = nodes[i];
  }

  static uint64_t hash_of(std::string_view topic) {
    uint64_t h = util::fnv1a(topic);
    return h ^ (h >> 29);  // fold the high bits into the slot index
  }

 private:
  struct Slot {
    uint64_t generation;
    const Node* nodes[kMaxNodes];
    uint8_t length;
    uint8_t count;
    char topic[kMaxTopic];
  };
  static_assert(sizeof(Slot) == 128);
  struct FreeSlots {
    void operator()(Slot* p) const { std::free(p); }
  };
  std::unique_ptr<Slot[], FreeSlots> slots_;
};

}  // namespace musqratt::broker
