#pragma once
// Per-address back-off for failed authentications. The first few failures from an address cost
// nothing extra; after them, each further attempt from that address waits its turn, spaced by a
// delay that doubles with every failure (up to a cap), and an attempt that would have to wait
// longer than `max_wait` is refused at once without checking the password. So a password-
// guessing client gets at most one password check per delay, whatever it sends, and its
// refusals come slowly; a success from the address clears its record.
//
// Memory is bounded: at most `max_addresses` addresses are tracked; beyond that the least
// recently failed one is forgotten. Records are also forgotten `forget_after` after their last
// failure.
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "util/clock.h"

namespace musqratt::auth {

struct BackoffOptions {
  uint32_t free_failures = 5;                 // failures from one address before delays start
  util::Millis base_delay{200};               // the delay after free_failures failures
  util::Millis max_delay{10'000};             // the delay never grows beyond this
  util::Millis max_wait{30'000};              // attempts that would wait longer are refused
  util::Millis forget_after{600'000};         // a record without failures for this long is dropped
  size_t max_addresses = 10'000;              // addresses tracked at most
};

/// Thread: every method may be called from any thread (one mutex, O(1) work under it).
/// Ownership: holds copies of the addresses it tracks.
class AuthBackoff {
 public:
  explicit AuthBackoff(BackoffOptions options = {}) : options_(options) {}

  enum class Verdict : uint8_t { Now, Later, Refuse };
  struct Decision {
    Verdict verdict = Verdict::Now;
    util::TimePoint not_before{};  // Later: check the password no earlier than this
  };
  /// When an attempt from `address` arriving at `now` may be checked. A Later decision reserves
  /// its turn: the next attempt from the address is spaced one delay after it.
  Decision schedule(std::string_view address, util::TimePoint now);
  void record_failure(std::string_view address, util::TimePoint now);
  void record_success(std::string_view address);

  /// Failures on record for `address` (0 if untracked or forgotten).
  uint32_t failures(std::string_view address, util::TimePoint now);
  size_t tracked() const;
  const BackoffOptions& options() const { return options_; }

 private:
  struct Entry {
    std::string address;
    uint32_t failures = 0;
    util::TimePoint last_failure{};
    util::TimePoint next_turn{};  // the earliest time the next attempt may be checked
  };
  using Lru = std::list<Entry>;  // most recently failed first
  util::Millis delay_for(uint32_t failures) const;
  /// The live entry for `address`, or end(); drops it if forgotten. Caller holds mu_.
  Lru::iterator find_locked(std::string_view address, util::TimePoint now);

  const BackoffOptions options_;
  mutable std::mutex mu_;
  Lru lru_;                                                   // guarded by mu_
  std::unordered_map<std::string_view, Lru::iterator> index_;  // keys view lru_ entries; guarded by mu_
};

}  // namespace musqratt::auth
