#include "net/tls_stream.h"

#include "util/log.h"

namespace musqratt::net {

TlsStream::TlsStream(const TlsServerContext& ctx)
    : tls_(ctx.context()), use_identity_as_username_(ctx.settings().use_identity_as_username) {}

std::optional<std::string> TlsStream::receive(std::span<const uint8_t> cipher, broker::SessionDriver& h,
                                              util::TimePoint now) {
  thread_local std::string plain;
  plain.clear();
  auto err = tls_.feed(cipher, plain, cipher_);
  // The certificate's name is set before the first plaintext (the CONNECT) reaches the handler.
  if (!identity_checked_ && tls_.established()) {
    identity_checked_ = true;
    if (use_identity_as_username_) {
      if (auto cn = tls_.peer_common_name()) h.set_certificate_username(*cn);
    }
  }
  // What arrived before a close_notify or an error (a DISCONNECT, say) still counts.
  if (!plain.empty()) h.on_bytes({reinterpret_cast<const uint8_t*>(plain.data()), plain.size()}, now);
  if (err) LOG_INFO("closing TLS connection from %s: %s", h.peer().c_str(), err->c_str());
  return err;
}

void TlsStream::encrypt_output(broker::SessionDriver& h, util::TimePoint now) {
  while (tls_.established() && unsent().size() < kCipherBacklog && !h.pending_output().empty()) {
    std::string_view out = h.pending_output();
    tls_.encrypt(out, cipher_);
    h.consume_output(out.size());
    if (h.pending_output().empty()) h.on_output_drained(now);  // may encode more queued messages
  }
}

void TlsStream::sent(size_t n) {
  cipher_pos_ += n;
  if (cipher_pos_ == cipher_.size()) {
    cipher_.clear();
    cipher_pos_ = 0;
  }
}

void TlsStream::take_unsent(std::string& out) {
  if (cipher_pos_ == 0) {
    out.swap(cipher_);  // the usual case: no copy
  } else {
    out.assign(unsent());
  }
  cipher_.clear();
  cipher_pos_ = 0;
}

std::unique_ptr<TlsStream> tls_stream_for(const TlsListeners* listeners, int listener) {
  if (listeners == nullptr) return nullptr;
  auto it = listeners->find(listener);
  if (it == listeners->end()) return nullptr;
  return std::make_unique<TlsStream>(*it->second);
}

}  // namespace musqratt::net
