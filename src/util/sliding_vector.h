#pragma once
// A vector whose front element is removed in O(1): the removed elements stay behind as a dead
// prefix (reset to T{}, so they own nothing) and the vector is compacted once that prefix is as
// long as the live part, so each element is moved at most once more on average. For lists kept
// in arrival order and mostly consumed from the front, such as a session's in-flight messages,
// whose acknowledgements arrive in the order the messages were sent: erasing the front of a
// plain vector moved every later element (a tenth of routing a QoS 1 message, measured).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace musqratt::util {

template <typename T>
class SlidingVector {
 public:
  using iterator = typename std::vector<T>::iterator;
  using const_iterator = typename std::vector<T>::const_iterator;

  SlidingVector() = default;
  SlidingVector& operator=(std::vector<T> items) {
    items_ = std::move(items);
    head_ = 0;
    return *this;
  }

  iterator begin() { return items_.begin() + head_; }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin() + head_; }
  const_iterator end() const { return items_.end(); }
  size_t size() const { return items_.size() - head_; }
  bool empty() const { return head_ == items_.size(); }

  void push_back(T item) {
    if (head_ >= kCompactFrom && head_ * 2 >= items_.size()) compact();
    items_.push_back(std::move(item));
  }
  /// Removes `it`; O(1) for the first element, a vector's erase for the others.
  void erase(iterator it) {
    if (it != begin()) {
      items_.erase(it);
      return;
    }
    *it = T{};
    if (++head_ == items_.size()) clear();
  }
  template <typename Pred>
  size_t erase_if(Pred pred) {
    compact();
    return std::erase_if(items_, pred);
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }

 private:
  static constexpr size_t kCompactFrom = 8;
  void compact() {
    items_.erase(items_.begin(), items_.begin() + head_);
    head_ = 0;
  }
  std::vector<T> items_;
  uint32_t head_ = 0;  // dead elements before the first live one
};

}  // namespace musqratt::util
