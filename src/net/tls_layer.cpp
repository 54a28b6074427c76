#include "net/tls_layer.h"

#include "util/log.h"

namespace musqratt::net {

TlsLayer::TlsLayer(const TlsServerContext& ctx, std::unique_ptr<Endpoint> upper, std::string peer)
    : upper_(std::move(upper)), tls_(ctx.context()), peer_(std::move(peer)),
      use_identity_as_username_(ctx.settings().use_identity_as_username) {}

TlsLayer::TlsLayer(std::shared_ptr<SSL_CTX> client_ctx, const TlsServerIdentity& server, std::unique_ptr<Endpoint> upper,
                   std::string peer)
    : upper_(std::move(upper)), tls_(std::move(client_ctx), server), peer_(std::move(peer)),
      use_identity_as_username_(false) {
  identity_checked_ = true;  // the server's identity is checked by the handshake itself
  client_ = true;
  if (auto err = tls_.start(cipher_)) {
    error_ = "TLS: " + *err;
    failed_ = true;
    upper_->on_transport_error(error_);
  }
}

void TlsLayer::on_bytes(std::span<const uint8_t> cipher, util::TimePoint now) {
  if (failed_) return;
  thread_local std::string plain;
  plain.clear();
  auto err = tls_.feed(cipher, plain, cipher_);
  // The certificate's name is given before the first plaintext (the CONNECT) goes up.
  if (!identity_checked_ && tls_.established()) {
    identity_checked_ = true;
    if (use_identity_as_username_) {
      if (auto cn = tls_.peer_common_name()) upper_->on_peer_identity(*cn);
    }
  }
  // What arrived before a close_notify or an error (a DISCONNECT, say) still counts.
  if (!plain.empty()) upper_->on_bytes({reinterpret_cast<const uint8_t*>(plain.data()), plain.size()}, now);
  if (err) {
    LOG_INFO_LIMITED("tls.closed", "closing TLS connection %s %s: %s", client_ ? "to" : "from", peer_.c_str(), err->c_str());
    error_ = "TLS: " + *err;
    failed_ = true;
    upper_->on_transport_error(error_);
  }
}

std::string_view TlsLayer::pending_output() {
  // After a failure only the alert (already in cipher_) goes out.
  while (!failed_ && tls_.established() && cipher_.size() - cipher_pos_ < kCipherBacklog) {
    std::string_view plain = upper_->pending_output();
    if (plain.empty()) break;
    tls_.encrypt(plain, cipher_);
    upper_->consume_output(plain.size(), util::now());  // may encode more queued messages
  }
  return std::string_view(cipher_).substr(cipher_pos_);
}

void TlsLayer::consume_output(size_t n, util::TimePoint) {
  cipher_pos_ += n;
  if (cipher_pos_ >= cipher_.size()) {
    cipher_.clear();
    cipher_pos_ = 0;
  } else if (cipher_pos_ > 64 * 1024 && cipher_pos_ * 2 > cipher_.size()) {
    cipher_.erase(0, cipher_pos_);
    cipher_pos_ = 0;
  }
}

EndpointFactory tls_endpoints(std::shared_ptr<TlsServerContext> ctx, EndpointFactory inner) {
  return [ctx = std::move(ctx), inner = std::move(inner)](NewConnection& c) -> std::unique_ptr<Endpoint> {
    std::string peer = c.peer;
    return std::make_unique<TlsLayer>(*ctx, inner(c), std::move(peer));
  };
}

}  // namespace musqratt::net
