#include "broker/retained_store.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace musqratt::broker {

/// The levels below one level: a short vector searched in place while there are few (most
/// levels have a handful of children, and a leaf none), a hash map once there are many (a
/// lookup then touches two or three cache lines where a search tree touches one per
/// comparison, and with half a million retained messages a '+' level is memory-bound).
class RetainedStore::Children {
 public:
  // Defined below, where Node is complete (its members hold Nodes; clang instantiates
  // implicit ones here, before that).
  Children();
  ~Children();
  Children(Children&&) noexcept;
  Children& operator=(Children&&) noexcept;

  Node* find(std::string_view level);
  const Node* find(std::string_view level) const;
  Node& get_or_add(std::string_view level);
  void erase(std::string_view level);
  bool empty() const;
  /// Calls f(level, node) for each child, in no particular order.
  template <typename F>
  void for_each(F&& f) const;

 private:
  static constexpr size_t kFew = 8;
  struct LevelHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, Node, LevelHash, std::equal_to<>>;
  std::vector<std::pair<std::string, Node>> few_;
  std::unique_ptr<Map> many_;
};

/// One topic level: its retained message, if any, and the levels below.
struct RetainedStore::Node {
  MessagePtr msg;
  Children children;
  bool empty() const { return !msg && children.empty(); }
};

RetainedStore::Children::Children() = default;
RetainedStore::Children::~Children() = default;
RetainedStore::Children::Children(Children&&) noexcept = default;
RetainedStore::Children& RetainedStore::Children::operator=(Children&&) noexcept = default;

const RetainedStore::Node* RetainedStore::Children::find(std::string_view level) const {
  return const_cast<Children*>(this)->find(level);
}

bool RetainedStore::Children::empty() const { return few_.empty() && (!many_ || many_->empty()); }

template <typename F>
void RetainedStore::Children::for_each(F&& f) const {
  for (const auto& [level, node] : few_) f(std::string_view(level), node);
  if (many_)
    for (const auto& [level, node] : *many_) f(std::string_view(level), node);
}

RetainedStore::Node* RetainedStore::Children::find(std::string_view level) {
  if (many_) {
    auto it = many_->find(level);
    return it == many_->end() ? nullptr : &it->second;
  }
  for (auto& [l, node] : few_)
    if (l == level) return &node;
  return nullptr;
}

RetainedStore::Node& RetainedStore::Children::get_or_add(std::string_view level) {
  if (Node* n = find(level)) return *n;
  if (!many_ && few_.size() < kFew) return few_.emplace_back(std::string(level), Node{}).second;
  if (!many_) {
    many_ = std::make_unique<Map>();
    for (auto& [l, node] : few_) many_->emplace(std::move(l), std::move(node));
    few_.clear();
    few_.shrink_to_fit();
  }
  return many_->emplace(std::string(level), Node{}).first->second;
}

void RetainedStore::Children::erase(std::string_view level) {
  if (many_) {
    auto it = many_->find(level);
    if (it != many_->end()) many_->erase(it);
    if (many_->empty()) many_.reset();
    return;
  }
  auto it = std::find_if(few_.begin(), few_.end(), [&](const auto& c) { return c.first == level; });
  if (it != few_.end()) few_.erase(it);
  if (few_.empty()) few_.shrink_to_fit();
}

namespace {

constexpr size_t kExpireChunk = 1024;  // messages removed per exclusive-lock hold

/// Calls f(level, last) for each level of a topic or filter ("a//b" has an empty middle level).
template <typename F>
void for_each_level(std::string_view s, F&& f) {
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      f(s.substr(start), true);
      return;
    }
    f(s.substr(start, slash - start), false);
    start = slash + 1;
  }
}

bool is_dollar(std::string_view level) { return !level.empty() && level[0] == '$'; }

}  // namespace

RetainedStore::RetainedStore()
    : root_(std::make_unique<Node>()), next_due_(util::TimePoint::max().time_since_epoch().count()) {}

RetainedStore::~RetainedStore() = default;

void RetainedStore::update_next_due_locked() {
  util::TimePoint next = by_expiry_.empty() ? util::TimePoint::max() : by_expiry_.begin()->first;
  next_due_.store(next.time_since_epoch().count(), std::memory_order_relaxed);
}

void RetainedStore::unindex_locked(const Message& msg) {
  if (msg.expires_at) by_expiry_.erase({*msg.expires_at, &msg});
}

void RetainedStore::put(const MessagePtr& msg) {
  std::unique_lock lock(mu_);
  if (msg->payload.empty()) {
    // Removing goes through the message stored for the topic, if any.
    const Node* node = root_.get();
    for_each_level(msg->topic, [&](std::string_view level, bool) {
      if (node) node = node->children.find(level);
    });
    MessagePtr gone;
    if (node && node->msg) gone = remove_locked(node->msg.get());
    lock.unlock();  // `gone` is freed outside the lock
    return;
  }
  Node* node = root_.get();
  for_each_level(msg->topic, [&](std::string_view level, bool) { node = &node->children.get_or_add(level); });
  if (node->msg) {
    unindex_locked(*node->msg);
  } else {
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  node->msg = msg;
  if (msg->expires_at) {
    by_expiry_.insert({*msg->expires_at, msg.get()});
    update_next_due_locked();
  }
}

MessagePtr RetainedStore::remove_locked(const Message* msg) {
  // The path from the root (each level and the node holding it), to prune the levels left
  // without a message or children. The levels are views into msg->topic, kept alive below.
  thread_local std::vector<std::pair<Node*, std::string_view>> path;
  path.clear();
  Node* node = root_.get();
  for_each_level(msg->topic, [&](std::string_view level, bool) {
    if (!node) return;
    path.push_back({node, level});
    node = node->children.find(level);
  });
  if (!node || node->msg.get() != msg) return nullptr;
  unindex_locked(*msg);
  MessagePtr gone = std::move(node->msg);
  count_.fetch_sub(1, std::memory_order_relaxed);
  // Bottom up: erasing a level moves its siblings, never the levels above it.
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    auto [parent, level] = *it;
    Node* child = parent->children.find(level);
    if (!child || !child->empty()) break;
    parent->children.erase(level);
  }
  update_next_due_locked();
  return gone;
}

void RetainedStore::collect_matching(std::string_view filter, util::TimePoint now,
                                     std::vector<MessagePtr>& out) const {
  thread_local std::vector<std::string_view> levels;
  levels.clear();
  for_each_level(filter, [&](std::string_view level, bool) { levels.push_back(level); });
  auto emit = [&](const Node& n) {
    if (n.msg && !n.msg->expired(now)) out.push_back(n.msg);
  };

  std::shared_lock lock(mu_);
  // Depth-first with an explicit stack (a topic may have thousands of levels): a node and the
  // index of the filter level to match against its children. '#' frames (subtree == true)
  // emit a whole subtree.
  struct Frame {
    const Node* node;
    size_t level;
    bool subtree;
  };
  thread_local std::vector<Frame> stack;
  stack.clear();
  stack.push_back({root_.get(), 0, false});
  while (!stack.empty()) {
    Frame f = stack.back();
    stack.pop_back();
    const Node& n = *f.node;
    const bool at_root = f.node == root_.get();
    if (f.subtree) {
      emit(n);
      n.children.for_each([&](std::string_view, const Node& child) { stack.push_back({&child, 0, true}); });
      continue;
    }
    if (f.level == levels.size()) {
      emit(n);
      continue;
    }
    std::string_view level = levels[f.level];
    if (level == "#") {
      // "a/#" matches "a" itself (section 4.7.1.2), then everything below it; at the first level
      // not the topics starting with '$' [MQTT-4.7.2-1, 3.1.1 and 5.0].
      if (!at_root) emit(n);
      n.children.for_each([&](std::string_view l, const Node& child) {
        if (!(at_root && is_dollar(l))) stack.push_back({&child, 0, true});
      });
      continue;
    }
    if (level == "+") {
      n.children.for_each([&](std::string_view l, const Node& child) {
        if (!(at_root && is_dollar(l))) stack.push_back({&child, f.level + 1, false});
      });
      continue;
    }
    if (const Node* c = n.children.find(level)) stack.push_back({c, f.level + 1, false});
  }
}

std::vector<MessagePtr> RetainedStore::matching(std::string_view filter, util::TimePoint now) const {
  std::vector<MessagePtr> out;
  collect_matching(filter, now, out);
  return out;
}

void RetainedStore::for_each_matching(std::string_view filter, util::TimePoint now,
                                      const std::function<void(const MessagePtr&)>& visit) const {
  for (const MessagePtr& m : matching(filter, now)) visit(m);
}

size_t RetainedStore::expire(util::TimePoint now) {
  size_t removed = 0;
  while (next_due_.load(std::memory_order_relaxed) <= now.time_since_epoch().count()) {
    // Bounded work per hold of the exclusive lock, so a mass expiry never stalls SUBSCRIBE
    // or retained PUBLISH for long; the messages are freed after the lock is released.
    std::vector<MessagePtr> freed;
    {
      std::unique_lock lock(mu_);
      while (!by_expiry_.empty() && by_expiry_.begin()->first <= now && freed.size() < kExpireChunk) {
        const Message* m = by_expiry_.begin()->second;
        by_expiry_.erase(by_expiry_.begin());
        if (MessagePtr gone = remove_locked(m)) freed.push_back(std::move(gone));
      }
      update_next_due_locked();
    }
    removed += freed.size();
    if (freed.size() < kExpireChunk) break;
  }
  return removed;
}

}  // namespace musqratt::broker
