#include "broker/retained_store.h"

#include <map>
#include <mutex>

namespace musqratt::broker {

/// One topic level. A leaf costs its map entry (key and this struct); only levels with
/// children allocate a map of their own.
struct RetainedStore::Node {
  using Children = std::map<std::string, Node, std::less<>>;
  MessagePtr msg;
  std::unique_ptr<Children> children;
  bool empty() const { return !msg && (!children || children->empty()); }
};

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
      if (!node || !node->children) {
        node = nullptr;
        return;
      }
      auto c = node->children->find(level);
      node = c == node->children->end() ? nullptr : &c->second;
    });
    MessagePtr gone;
    if (node && node->msg) gone = remove_locked(node->msg.get());
    lock.unlock();  // `gone` is freed outside the lock
    return;
  }
  Node* node = root_.get();
  for_each_level(msg->topic, [&](std::string_view level, bool) {
    if (!node->children) node->children = std::make_unique<Node::Children>();
    auto c = node->children->find(level);
    if (c == node->children->end()) c = node->children->emplace(std::string(level), Node{}).first;
    node = &c->second;
  });
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
  // The path from the root, to prune levels left without a message or children.
  thread_local std::vector<std::pair<Node*, Node::Children::iterator>> path;
  path.clear();
  Node* node = root_.get();
  bool found = true;
  for_each_level(msg->topic, [&](std::string_view level, bool) {
    if (!found) return;
    if (!node->children) {
      found = false;
      return;
    }
    auto c = node->children->find(level);
    if (c == node->children->end()) {
      found = false;
      return;
    }
    path.push_back({node, c});
    node = &c->second;
  });
  if (!found || node->msg.get() != msg) return nullptr;
  unindex_locked(*msg);
  MessagePtr gone = std::move(node->msg);
  count_.fetch_sub(1, std::memory_order_relaxed);
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    auto [parent, child] = *it;
    if (!child->second.empty()) break;
    parent->children->erase(child);
    if (parent->children->empty()) parent->children.reset();
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
  // index of the filter level to match against its children; pushed in reverse so that
  // children come out in byte order. '#' frames (subtree == true) emit a whole subtree.
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
      if (n.children)
        for (auto it = n.children->rbegin(); it != n.children->rend(); ++it) stack.push_back({&it->second, 0, true});
      continue;
    }
    if (f.level == levels.size()) {
      emit(n);
      continue;
    }
    std::string_view level = levels[f.level];
    if (level == "#") {
      // "a/#" matches "a" itself [MQTT-4.7.1-2], then everything below it; at the first level
      // not the topics starting with '$' [MQTT-4.7.2-1].
      if (!at_root) emit(n);
      if (n.children)
        for (auto it = n.children->rbegin(); it != n.children->rend(); ++it)
          if (!(at_root && is_dollar(it->first))) stack.push_back({&it->second, 0, true});
      continue;
    }
    if (!n.children) continue;
    if (level == "+") {
      for (auto it = n.children->rbegin(); it != n.children->rend(); ++it)
        if (!(at_root && is_dollar(it->first))) stack.push_back({&it->second, f.level + 1, false});
      continue;
    }
    auto c = n.children->find(level);
    if (c != n.children->end()) stack.push_back({&c->second, f.level + 1, false});
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
