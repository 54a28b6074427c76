#pragma once
// FNV-1a over a short string: topic levels and whole topic names are a few dozen bytes, and this
// inlines where std::hash<string_view> calls out to a general-purpose byte hash (a measurable
// share of routing a message).
#include <cstdint>
#include <string_view>

namespace musqratt::util {

inline uint64_t fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace musqratt::util
