#pragma once
// TLS as a stream layer: ciphertext from below is decrypted for the Endpoint above, whose
// output is encrypted on its way down. The transports never see TLS: the same layer runs
// over epoll and io_uring, and would run over any other byte stream.
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "net/endpoint.h"
#include "net/listener.h"
#include "net/tls.h"
#include "util/clock.h"

namespace musqratt::net {

/// One TLS connection between the transport and the Endpoint above it. Thread: the owning
/// worker only. Ownership: owns the Endpoint above it.
class TlsLayer final : public Endpoint {
 public:
  /// With the listener's current context: a certificate reload applies to later connections.
  TlsLayer(const TlsServerContext& ctx, std::unique_ptr<Endpoint> upper, std::string peer);
  /// The client side of a connection we open to `server` (made with make_tls_client_context):
  /// the ClientHello is queued at once; the upper Endpoint's output follows the handshake.
  TlsLayer(std::shared_ptr<SSL_CTX> client_ctx, const TlsServerIdentity& server, std::unique_ptr<Endpoint> upper,
           std::string peer);

  void on_bytes(std::span<const uint8_t> cipher, util::TimePoint now) override;
  /// Ciphertext to send: the handshake, alerts, and the upper Endpoint's output encrypted as
  /// long as little ciphertext waits (a slow reader gets the same back-pressure as over TCP).
  std::string_view pending_output() override;
  void consume_output(size_t n, util::TimePoint now) override;
  bool closing() const override { return failed_ || upper_->closing(); }
  std::string_view close_reason() const override { return failed_ ? std::string_view(error_) : upper_->close_reason(); }
  void on_wake(util::TimePoint now) override { upper_->on_wake(now); }
  void on_tick(util::TimePoint now) override { upper_->on_tick(now); }
  void on_shutdown() override { upper_->on_shutdown(); }
  void on_closed(util::TimePoint now) override { upper_->on_closed(now); }
  void on_transport_error(std::string_view reason) override { upper_->on_transport_error(reason); }

 private:
  static constexpr size_t kCipherBacklog = 256 * 1024;
  std::unique_ptr<Endpoint> upper_;
  TlsConnection tls_;
  const std::string peer_;
  std::string cipher_;  // ciphertext not yet taken by the layer below, from cipher_pos_
  size_t cipher_pos_ = 0;
  std::string error_;   // why the TLS connection failed
  bool use_identity_as_username_;
  bool identity_checked_ = false;
  bool failed_ = false;  // fatal TLS error or close_notify: send the alert, then close
  bool client_ = false;  // our side opened the connection
};

/// Connections of a TLS listener: TLS with `ctx`, then what `inner` builds.
EndpointFactory tls_endpoints(std::shared_ptr<TlsServerContext> ctx, EndpointFactory inner);

}  // namespace musqratt::net
