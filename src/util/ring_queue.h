#pragma once
// A FIFO on one growable ring buffer. Unlike std::deque (which allocates a map and a block as
// soon as it is constructed), an empty RingQueue owns no memory: an idle connection's session
// costs nothing here.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace musqratt::util {

template <typename T>
class RingQueue {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  T& front() { return slots_[head_]; }
  const T& front() const { return slots_[head_]; }
  T& operator[](size_t i) { return slots_[wrap(head_ + i)]; }
  const T& operator[](size_t i) const { return slots_[wrap(head_ + i)]; }

  void push_back(T value) {
    if (size_ == slots_.size()) grow();
    slots_[wrap(head_ + size_)] = std::move(value);
    ++size_;
  }
  void pop_front() {
    slots_[head_] = T{};  // release what the slot held now, not when it is overwritten
    head_ = static_cast<uint32_t>(wrap(head_ + 1));
    if (--size_ == 0) head_ = 0;
  }
  void clear() {
    slots_.clear();
    slots_.shrink_to_fit();
    head_ = size_ = 0;
  }
  /// Removes the elements for which `pred` is true, keeping the order of the others.
  template <typename Pred>
  size_t erase_if(Pred pred) {
    std::vector<T> kept;
    kept.reserve(size_);
    for (size_t i = 0; i < size_; ++i) {
      T& v = (*this)[i];
      if (!pred(v)) kept.push_back(std::move(v));
    }
    size_t removed = size_ - kept.size();
    size_ = static_cast<uint32_t>(kept.size());
    head_ = 0;
    slots_ = std::move(kept);
    return removed;
  }
  template <typename F>
  void for_each(F f) {
    for (size_t i = 0; i < size_; ++i) f((*this)[i]);
  }
  template <typename F>
  void for_each(F f) const {
    for (size_t i = 0; i < size_; ++i) f((*this)[i]);
  }

 private:
  /// An index past the end back into the ring. Every index here is below twice the capacity,
  /// so one subtraction does what a modulo would: a division per message showed in profiles.
  size_t wrap(size_t i) const { return i >= slots_.size() ? i - slots_.size() : i; }
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 4 : slots_.size() * 2);
    for (size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    slots_ = std::move(bigger);
    head_ = 0;
  }
  std::vector<T> slots_;
  uint32_t head_ = 0;  // 32-bit: a session never queues four billion messages, and it is per session
  uint32_t size_ = 0;
};

}  // namespace musqratt::util
