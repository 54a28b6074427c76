#pragma once
// Eight bytes at a time: the checks every PUBLISH runs over its topic (plain ASCII, no NUL, no
// wildcard) cost a compare and a branch per byte in a plain loop, a measurable share of a small
// message. Each function below answers for one 64-bit word; callers finish the tail bytewise.
#include <cstdint>
#include <cstring>

namespace musqratt::protocol::byte_scan {

inline constexpr uint64_t kOnes = 0x0101010101010101ull;
inline constexpr uint64_t kHighBits = 0x8080808080808080ull;

inline uint64_t load8(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

/// Some byte of `w` is 0. Exact for the question "is there one" (borrows can only mark bytes
/// above a zero byte, never invent one).
inline bool has_zero_byte(uint64_t w) { return ((w - kOnes) & ~w & kHighBits) != 0; }

/// Some byte of `w` equals `c`.
inline bool has_byte(uint64_t w, unsigned char c) { return has_zero_byte(w ^ (kOnes * c)); }

/// Every byte of `w` is below 0x80.
inline bool all_ascii(uint64_t w) { return (w & kHighBits) == 0; }

}  // namespace musqratt::protocol::byte_scan
