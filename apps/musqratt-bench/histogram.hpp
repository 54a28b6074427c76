// Log-linear high-dynamic-range histogram of nanosecond values, 1 ns .. 60 s,
// 128 linear sub-buckets per power of two (relative bucket width below 0.8 %).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mqb {

class Histogram {
 public:
  static constexpr uint64_t kMax = 60'000'000'000ull;  // 60 s in ns
  Histogram();
  void record(uint64_t ns) {
    if (ns > kMax) ns = kMax;
    ++counts_[index(ns)];
    ++total_;
    if (ns > max_) max_ = ns;
    if (ns < min_) min_ = ns;
  }
  void merge(const Histogram& o);
  uint64_t count() const { return total_; }
  uint64_t max() const { return total_ ? max_ : 0; }
  uint64_t min() const { return total_ ? min_ : 0; }
  // Value (ns) at quantile q in [0,1]: the middle of the bucket holding it, capped at max().
  uint64_t quantile(double q) const;

  static std::size_t index(uint64_t v) {
    if (v < 256) return std::size_t(v);
    int e = 63 - __builtin_clzll(v);  // >= 8
    int shift = e - 7;
    return 256 + std::size_t(e - 8) * 128 + std::size_t((v >> shift) - 128);
  }
  static uint64_t bucket_low(std::size_t idx);
  static uint64_t bucket_high(std::size_t idx);

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0, max_ = 0, min_ = ~0ull;
};

}  // namespace mqb
