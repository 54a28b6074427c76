#include "broker/hold_store.h"

#include <algorithm>

#include "protocol/topic.h"

namespace musqratt::broker {

void HeldMessages::restore(uint64_t seq, const MessagePtr& msg) {
  topics_[msg->topic].push_back({seq, msg});
  ++messages_;
  bytes_ += msg->footprint();
  next_seq_ = std::max(next_seq_, seq + 1);
}

void HeldMessages::drop_front(std::map<std::string, std::deque<Held>, std::less<>>::iterator it) {
  if (store_) store_->held_deleted(it->second.front().seq);
  bytes_ -= it->second.front().msg->footprint();
  --messages_;
  it->second.pop_front();
  if (it->second.empty()) topics_.erase(it);
}

size_t HeldMessages::hold(const MessagePtr& msg) {
  size_t dropped = 0;
  auto it = topics_.find(msg->topic);
  if (it == topics_.end()) it = topics_.emplace(msg->topic, std::deque<Held>{}).first;
  if (limits_.max_messages_per_topic && it->second.size() >= limits_.max_messages_per_topic) {
    drop_front(it);
    ++dropped;
    it = topics_.emplace(msg->topic, std::deque<Held>{}).first;  // may have been erased
  }
  it->second.push_back({next_seq_, msg});
  if (store_) store_->held_saved(next_seq_, msg);
  ++next_seq_;
  ++messages_;
  bytes_ += msg->footprint();
  // Over the broker-wide byte limit: drop the globally oldest messages until under it.
  while (limits_.max_bytes && bytes_ > limits_.max_bytes && messages_ > 1) {
    auto oldest = std::min_element(topics_.begin(), topics_.end(), [](const auto& a, const auto& b) {
      return a.second.front().seq < b.second.front().seq;
    });
    drop_front(oldest);
    ++dropped;
  }
  return dropped;
}

std::vector<MessagePtr> HeldMessages::take_matching(std::string_view filter, util::TimePoint now) {
  std::vector<Held> taken;
  for (auto it = topics_.begin(); it != topics_.end();) {
    if (!protocol::topic_matches(filter, it->first)) {
      ++it;
      continue;
    }
    for (auto& h : it->second) {
      if (store_) store_->held_deleted(h.seq);
      bytes_ -= h.msg->footprint();
      --messages_;
      if (!h.msg->expired(now)) taken.push_back(std::move(h));
    }
    it = topics_.erase(it);
  }
  // Publish order across topics, too.
  std::sort(taken.begin(), taken.end(), [](const Held& a, const Held& b) { return a.seq < b.seq; });
  std::vector<MessagePtr> out;
  out.reserve(taken.size());
  for (auto& h : taken) out.push_back(std::move(h.msg));
  return out;
}

size_t HeldMessages::expire(util::TimePoint now) {
  size_t n = 0;
  for (auto it = topics_.begin(); it != topics_.end();) {
    auto& q = it->second;
    size_t before = q.size();
    std::erase_if(q, [&](const Held& h) {
      if (!h.msg->expired(now)) return false;
      if (store_) store_->held_deleted(h.seq);
      bytes_ -= h.msg->footprint();
      return true;
    });
    n += before - q.size();
    messages_ -= before - q.size();
    it = q.empty() ? topics_.erase(it) : std::next(it);
  }
  return n;
}

}  // namespace musqratt::broker
