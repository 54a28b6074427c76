// Growable byte buffer with a read head, used for socket input and output.
// Memory is malloc'd and never zero-filled, so untouched pages stay unmapped.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace mqb {

class Buf {
 public:
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { std::free(data_); }

  const uint8_t* begin() const { return data_ + head_; }
  std::size_t size() const { return tail_ - head_; }
  bool empty() const { return tail_ == head_; }
  std::size_t room() const { return cap_ - tail_; }

  // Makes at least n bytes writable at the tail and returns a pointer to them.
  uint8_t* reserve(std::size_t n) {
    if (cap_ - tail_ >= n) return data_ + tail_;
    std::size_t used = tail_ - head_;
    if (head_ > 0 && used + n <= cap_ && head_ >= used) {
      std::memmove(data_, data_ + head_, used);
      head_ = 0;
      tail_ = used;
      return data_ + tail_;
    }
    if (head_ > 0) {
      std::memmove(data_, data_ + head_, used);
      head_ = 0;
      tail_ = used;
      if (cap_ - tail_ >= n) return data_ + tail_;
    }
    std::size_t ncap = cap_ ? cap_ * 2 : 256;
    while (ncap < used + n) ncap *= 2;
    auto* p = static_cast<uint8_t*>(std::realloc(data_, ncap));
    if (!p) throw std::bad_alloc();
    data_ = p;
    cap_ = ncap;
    return data_ + tail_;
  }
  void commit(std::size_t n) { tail_ += n; }
  void append(const void* p, std::size_t n) {
    std::memcpy(reserve(n), p, n);
    tail_ += n;
  }
  void consume(std::size_t n) {
    head_ += n;
    if (head_ == tail_) head_ = tail_ = 0;
  }
  void clear() { head_ = tail_ = 0; }
  void release() {
    std::free(data_);
    data_ = nullptr;
    cap_ = head_ = tail_ = 0;
  }

 private:
  uint8_t* data_ = nullptr;
  std::size_t cap_ = 0, head_ = 0, tail_ = 0;
};

}  // namespace mqb
