#include "broker/topic_tree.h"

#include <algorithm>
#include <mutex>

#include "broker/topic_route_cache.h"
#include "protocol/topic.h"

namespace musqratt::broker {

struct TopicTree::SharedGroup {
  std::string name;
  std::shared_ptr<const std::string> full_filter;  // "$share/name/filter"
  std::vector<Subscriber> members;
  mutable std::atomic<size_t> next{0};  // round-robin cursor, advanced under the shared lock
};

struct TopicTree::Node {
  std::string level;
  Node* parent = nullptr;
  std::unordered_map<std::string, std::unique_ptr<Node>, LevelHash, std::equal_to<>> children;
  // The "+" and "#" children (owned by `children`), so routing looks up one level per node
  // instead of three.
  Node* plus = nullptr;
  Node* hash = nullptr;
  std::vector<Subscriber> subscribers;
  std::vector<std::unique_ptr<SharedGroup>> shared;
  bool empty() const { return children.empty() && subscribers.empty() && shared.empty(); }
};

TopicTree::TopicTree() : root_(std::make_unique<Node>()), generation_(next_route_generation()) {}
TopicTree::~TopicTree() = default;

namespace {
template <typename F>
void split_levels(std::string_view s, F&& f) {
  size_t start = 0;
  while (true) {
    size_t slash = s.find('/', start);
    f(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) return;
    start = slash + 1;
  }
}
/// "$share/g/f" -> {"g", "f"}; a plain filter -> {"", filter}.
std::pair<std::string_view, std::string_view> split_share(const std::string& full_filter) {
  if (auto shared = protocol::parse_shared_filter(full_filter)) return {shared->group, shared->filter};
  return {std::string_view(), std::string_view(full_filter)};
}
}  // namespace

bool TopicTree::subscribe(const std::string& full_filter, const Subscriber& sub) {
  auto [group, filter] = split_share(full_filter);
  std::unique_lock lock(mu_);
  Node* node = root_.get();
  split_levels(filter, [&](std::string_view level) {
    auto it = node->children.find(level);
    if (it == node->children.end()) {
      auto child = std::make_unique<Node>();
      child->level = std::string(level);
      child->parent = node;
      it = node->children.emplace(child->level, std::move(child)).first;
      if (level == "+") node->plus = it->second.get();
      if (level == "#") node->hash = it->second.get();
      nodes_.fetch_add(1, std::memory_order_relaxed);
      generation_ = next_route_generation();
    }
    node = it->second.get();
  });
  std::vector<Subscriber>* list = &node->subscribers;
  if (!group.empty()) {
    auto g = std::find_if(node->shared.begin(), node->shared.end(),
                          [&](const auto& sg) { return sg->name == group; });
    if (g == node->shared.end()) {
      auto sg = std::make_unique<SharedGroup>();
      sg->name = std::string(group);
      sg->full_filter = std::make_shared<const std::string>(full_filter);
      node->shared.push_back(std::move(sg));
      g = node->shared.end() - 1;
    }
    list = &(*g)->members;
  }
  auto existing = std::find_if(list->begin(), list->end(),
                               [&](const Subscriber& s) { return s.session == sub.session; });
  if (existing != list->end()) {
    *existing = sub;
    return false;
  }
  list->push_back(sub);
  subscriptions_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

TopicTree::Node* TopicTree::find_node(std::string_view filter) const {
  Node* node = root_.get();
  bool found = true;
  split_levels(filter, [&](std::string_view level) {
    if (!found) return;
    auto it = node->children.find(level);
    if (it == node->children.end()) {
      found = false;
      return;
    }
    node = it->second.get();
  });
  return found ? node : nullptr;
}

void TopicTree::prune(Node* node) {
  while (node != root_.get() && node->empty()) {
    Node* parent = node->parent;
    if (parent->plus == node) parent->plus = nullptr;
    if (parent->hash == node) parent->hash = nullptr;
    parent->children.erase(node->level);  // frees `node`
    nodes_.fetch_sub(1, std::memory_order_relaxed);
    generation_ = next_route_generation();
    node = parent;
  }
}

bool TopicTree::unsubscribe(const std::string& full_filter, const Session* session) {
  auto [group, filter] = split_share(full_filter);
  std::unique_lock lock(mu_);
  Node* node = find_node(filter);
  if (!node) return false;
  bool removed = false;
  auto erase_from = [&](std::vector<Subscriber>& list) {
    auto n = std::erase_if(list, [&](const Subscriber& s) { return s.session.get() == session; });
    removed = n > 0;
  };
  if (group.empty()) {
    erase_from(node->subscribers);
  } else {
    auto g = std::find_if(node->shared.begin(), node->shared.end(),
                          [&](const auto& sg) { return sg->name == group; });
    if (g != node->shared.end()) {
      erase_from((*g)->members);
      if ((*g)->members.empty()) node->shared.erase(g);
    }
  }
  if (removed) subscriptions_.fetch_sub(1, std::memory_order_relaxed);
  prune(node);
  return removed;
}

namespace {

/// Round-robin over members, taking the first preferred one from the cursor on.
const Subscriber* choose_member(const std::vector<Subscriber>& members, std::atomic<size_t>& next,
                                const std::function<bool(const Session*)>& prefer,
                                const Session* exclude) {
  if (members.empty()) return nullptr;
  size_t start = next.fetch_add(1, std::memory_order_relaxed);
  const Subscriber* fallback = nullptr;
  for (size_t i = 0; i < members.size(); ++i) {
    const Subscriber& m = members[(start + i) % members.size()];
    if (m.session.get() == exclude) continue;
    if (!prefer || prefer(m.session.get())) return &m;
    if (!fallback) fallback = &m;
  }
  return fallback;
}

}  // namespace

void TopicTree::collect_matches(std::string_view topic, std::vector<Match>& out,
                                const std::function<bool(const Session*)>& prefer) const {
  using Routes = TopicRouteCache<Node>;
  thread_local Routes routes;
  const uint64_t topic_hash = Routes::hash_of(topic);
  std::shared_lock lock(mu_);
  auto emit_node = [&](const Node* n) {
    for (const auto& s : n->subscribers) out.push_back(Match{s, nullptr});
    for (const auto& g : n->shared) {
      if (const Subscriber* m = choose_member(g->members, g->next, prefer, nullptr))
        out.push_back(Match{*m, g->full_filter});
    }
  };
  if (auto known = routes.find(topic, topic_hash, generation_); !known.empty()) {
    for (const Node* n : known) emit_node(n);
    return;
  }
  // Iterative walk: a stack of (node, position in topic) pairs, kept per thread so routing a
  // message allocates nothing for it (nothing called below routes again).
  struct Frame {
    const Node* node;
    size_t pos;  // start of the next level in topic; npos once past the last level
  };
  thread_local std::vector<Frame> stack;
  stack.clear();
  stack.push_back({root_.get(), 0});
  // The nodes emitted, in walk order, for the cache; more than it keeps are walked every time.
  const Node* reached[Routes::kMaxNodes];
  size_t reached_count = 0;
  bool too_many = false;
  auto reach = [&](const Node* n) {
    if (reached_count < Routes::kMaxNodes) reached[reached_count++] = n;
    else too_many = true;
    emit_node(n);
  };
  const bool dollar = !topic.empty() && topic[0] == '$';
  while (!stack.empty()) {
    Frame f = stack.back();
    stack.pop_back();
    const Node* n = f.node;
    // Wildcards at the first level do not match topics starting with '$' (3.1.1 and 5.0,
    // section 4.7.2).
    const bool wildcards = !(dollar && n == root_.get());
    // '#' matches this level and everything below, including the parent itself.
    if (n->hash && wildcards) reach(n->hash);
    if (f.pos == std::string_view::npos) {
      reach(n);
      continue;
    }
    if (n->children.empty()) continue;
    size_t slash = topic.find('/', f.pos);
    std::string_view level = topic.substr(f.pos, slash == std::string_view::npos ? std::string_view::npos : slash - f.pos);
    size_t next = slash == std::string_view::npos ? std::string_view::npos : slash + 1;
    if (auto it = n->children.find(level); it != n->children.end())
      stack.push_back({it->second.get(), next});
    if (n->plus && wildcards) stack.push_back({n->plus, next});
  }
  if (!too_many) routes.store(topic, topic_hash, generation_, std::span<const Node* const>(reached, reached_count));
}

bool TopicTree::pick_shared_member(const std::string& share_filter, const Session* exclude, Match& out) const {
  auto shared = protocol::parse_shared_filter(share_filter);
  if (!shared) return false;
  std::shared_lock lock(mu_);
  Node* node = find_node(shared->filter);
  if (!node) return false;
  for (const auto& g : node->shared) {
    if (g->name != shared->group) continue;
    const Subscriber* m = choose_member(g->members, g->next, nullptr, exclude);
    if (!m) return false;
    out = Match{*m, g->full_filter};
    return true;
  }
  return false;
}

bool TopicTree::has_subscribers(std::string_view topic) const {
  std::vector<Match> found;
  collect_matches(topic, found, nullptr);
  return !found.empty();
}

}  // namespace musqratt::broker
