#include "histogram.hpp"

#include <cmath>

namespace mqb {

Histogram::Histogram() : counts_(index(kMax) + 1, 0) {}

void Histogram::merge(const Histogram& o) {
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  total_ += o.total_;
  if (o.total_) {
    if (o.max_ > max_) max_ = o.max_;
    if (o.min_ < min_) min_ = o.min_;
  }
}

uint64_t Histogram::bucket_low(std::size_t idx) {
  if (idx < 256) return idx;
  std::size_t k = idx - 256;
  int e = int(k / 128) + 8;
  uint64_t m = k % 128 + 128;
  return m << (e - 7);
}

uint64_t Histogram::bucket_high(std::size_t idx) {
  if (idx < 256) return idx;
  std::size_t k = idx - 256;
  int e = int(k / 128) + 8;
  uint64_t m = k % 128 + 128;
  return ((m + 1) << (e - 7)) - 1;
}

uint64_t Histogram::quantile(double q) const {
  if (!total_) return 0;
  if (q >= 1.0) return max_;
  uint64_t rank = uint64_t(std::ceil(q * double(total_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      uint64_t mid = (bucket_low(i) + bucket_high(i)) / 2;
      if (mid > max_) mid = max_;
      if (mid < min_) mid = min_;
      return mid;
    }
  }
  return max_;
}

}  // namespace mqb
