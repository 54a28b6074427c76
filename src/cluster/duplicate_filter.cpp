#include "cluster/duplicate_filter.h"

#include <algorithm>

namespace musqratt::cluster {

bool DuplicateFilter::test_and_set(Window& w, uint64_t id) {
  uint64_t slot = id & (bits_ - 1);
  uint64_t& word = w.words[slot >> 6];
  uint64_t mask = 1ull << (slot & 63);
  bool was = word & mask;
  word |= mask;
  return !was;
}

void DuplicateFilter::clear_bit(Window& w, uint64_t id) {
  uint64_t slot = id & (bits_ - 1);
  w.words[slot >> 6] &= ~(1ull << (slot & 63));
}

bool DuplicateFilter::first_time(const MessageIdentity& who, util::TimePoint now) {
  auto [it, fresh] = windows_.try_emplace(who.instance);
  Window& w = it->second;
  w.seen = now;
  if (fresh) {
    w.words.assign(bits_ / 64, 0);
    // Start with room behind the first id: messages of one origin may arrive a little out of
    // order (QoS 0 straight over NATS, QoS 1/2 through the stream).
    w.base = who.id > bits_ / 2 ? who.id - bits_ / 2 : 0;
  }
  if (who.id < w.base) {
    ++too_old_;
    return true;
  }
  uint64_t end = w.base + bits_;
  if (who.id >= end) {
    // Slide forward by at least an eighth of the window, so clearing is amortised.
    uint64_t new_base = std::max(who.id - bits_ + 1, w.base + bits_ / 8);
    if (new_base - w.base >= bits_) {
      std::fill(w.words.begin(), w.words.end(), 0);
    } else {
      for (uint64_t i = w.base; i < new_base; ++i) clear_bit(w, i);
    }
    w.base = new_base;
  }
  return test_and_set(w, who.id);
}

size_t DuplicateFilter::forget_idle(util::TimePoint before) {
  return std::erase_if(windows_, [&](const auto& kv) { return kv.second.seen < before; });
}

}  // namespace musqratt::cluster
