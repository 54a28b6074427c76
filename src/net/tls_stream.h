#pragma once
// What a kernel-socket worker does with a TLS connection, whatever its event loop: ciphertext
// read from the socket goes in, plaintext reaches the SessionDriver; the handler's output is
// encrypted into a ciphertext buffer that the worker writes out (epoll: send(2) from it;
// io_uring: a stable copy handed to the ring). The epoll and io_uring workers share this so
// the handshake, the certificate user name and back-pressure behave the same on both.
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "broker/session_driver.h"
#include "net/tls.h"
#include "util/clock.h"

namespace musqratt::net {

/// One TLS connection between a socket and its SessionDriver. Thread: the owning worker only.
/// Ownership: owned by the worker's connection object, next to the handler it feeds.
class TlsStream {
 public:
  /// With the listener's current context: a certificate reload applies to later connections.
  explicit TlsStream(const TlsServerContext& ctx);

  /// Decrypts ciphertext from the socket and hands the plaintext to `h`, including what came
  /// before a fatal error or close_notify. On such an end, returns its text: the caller may
  /// send unsent() (an alert telling the peer why) and must close the connection.
  std::optional<std::string> receive(std::span<const uint8_t> cipher, broker::SessionDriver& h,
                                     util::TimePoint now);
  /// Moves the handler's pending output into ciphertext, but only while little ciphertext waits,
  /// so a slow TLS reader gets the same back-pressure as a plain one. Nothing before the
  /// handshake is done.
  void encrypt_output(broker::SessionDriver& h, util::TimePoint now);
  /// Ciphertext (handshake, records, alerts) not yet handed to the socket, oldest first.
  std::string_view unsent() const { return std::string_view(cipher_).substr(cipher_pos_); }
  void sent(size_t n);
  /// Replaces `out` with the unsent ciphertext, for a transport that needs its send buffer to
  /// stay put while the kernel reads it.
  void take_unsent(std::string& out);
  /// Anything left to write: ciphertext, or plaintext that can be encrypted now.
  bool output_pending(const broker::SessionDriver& h) const {
    return !unsent().empty() || (tls_.established() && !h.pending_output().empty());
  }

 private:
  static constexpr size_t kCipherBacklog = 256 * 1024;
  TlsConnection tls_;
  bool use_identity_as_username_;
  bool identity_checked_ = false;
  std::string cipher_;
  size_t cipher_pos_ = 0;
};

/// The TLS stream for a connection accepted on `listener`, or null when it is plain TCP.
std::unique_ptr<TlsStream> tls_stream_for(const TlsListeners* listeners, int listener);

}  // namespace musqratt::net
