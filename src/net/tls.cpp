#include "net/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace musqratt::net {
namespace {
std::string ssl_error(const std::string& what) {
  unsigned long e = ERR_get_error();
  char buf[256] = "unknown error";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return what + ": " + buf;
}
}  // namespace

std::expected<std::shared_ptr<SSL_CTX>, std::string> TlsServerContext::build(const TlsSettings& s) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) return std::unexpected(ssl_error("TLS context"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), s.cert_file.c_str()) != 1)
    return std::unexpected(ssl_error("tls_cert " + s.cert_file));
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), s.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return std::unexpected(ssl_error("tls_key " + s.key_file));
  if (SSL_CTX_check_private_key(ctx.get()) != 1) return std::unexpected(ssl_error("tls_key does not match tls_cert"));
  if (!s.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), s.ca_file.c_str(), nullptr) != 1)
      return std::unexpected(ssl_error("tls_ca " + s.ca_file));
    int mode = SSL_VERIFY_PEER | (s.require_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx.get(), mode, nullptr);
  } else if (s.require_certificate) {
    return std::unexpected(std::string("tls_require_certificate needs tls_ca"));
  }
  return ctx;
}

std::expected<std::shared_ptr<TlsServerContext>, std::string> TlsServerContext::create(const TlsSettings& s) {
  auto ctx = build(s);
  if (!ctx) return std::unexpected(ctx.error());
  auto t = std::make_shared<TlsServerContext>();
  t->settings_ = s;
  t->ctx_.store(*ctx);
  return t;
}

std::string TlsServerContext::reload() {
  auto ctx = build(settings_);
  if (!ctx) return ctx.error();
  ctx_.store(*ctx, std::memory_order_release);
  return {};
}

std::expected<std::shared_ptr<SSL_CTX>, std::string> make_tls_client_context(const TlsClientSettings& s) {
  std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return std::unexpected(ssl_error("TLS context"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!s.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), s.ca_file.c_str(), nullptr) != 1)
      return std::unexpected(ssl_error("tls_ca " + s.ca_file));
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return std::unexpected(ssl_error("the system's CA store"));
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (!s.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), s.cert_file.c_str()) != 1)
      return std::unexpected(ssl_error("tls_cert " + s.cert_file));
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), s.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return std::unexpected(ssl_error("tls_key " + s.key_file));
    if (SSL_CTX_check_private_key(ctx.get()) != 1) return std::unexpected(ssl_error("tls_key does not match tls_cert"));
  }
  return ctx;
}

TlsConnection::TlsConnection(std::shared_ptr<SSL_CTX> ctx) : ctx_(std::move(ctx)) {
  ssl_ = SSL_new(ctx_.get());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_accept_state(ssl_);
}

TlsConnection::TlsConnection(std::shared_ptr<SSL_CTX> ctx, const TlsServerIdentity& server) : ctx_(std::move(ctx)) {
  ssl_ = SSL_new(ctx_.get());
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(in_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_connect_state(ssl_);
  in6_addr scratch;
  bool is_ip = inet_pton(AF_INET, server.name.c_str(), &scratch) == 1 || inet_pton(AF_INET6, server.name.c_str(), &scratch) == 1;
  // SNI carries host names only, never an address (RFC 6066 section 3).
  if (!is_ip && !server.name.empty()) SSL_set_tlsext_host_name(ssl_, server.name.c_str());
  if (server.verify_name && !server.name.empty()) {
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server.name.c_str());
    } else {
      SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl_, server.name.c_str());
    }
  }
}

TlsConnection::~TlsConnection() { SSL_free(ssl_); }

std::string TlsConnection::failure(const char* what) const {
  std::string err = ssl_error(what);
  // A failed certificate check says which check failed ("Hostname mismatch", "certificate
  // has expired", ...): the operator's first question.
  long v = SSL_get_verify_result(ssl_);
  if (v != X509_V_OK) err += std::string(" (") + X509_verify_cert_error_string(v) + ")";
  return err;
}

std::optional<std::string> TlsConnection::start(std::string& cipher_out) {
  int n = SSL_do_handshake(ssl_);
  if (n != 1) {
    int err = SSL_get_error(ssl_, n);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      drain(cipher_out);
      return failure("TLS");
    }
  }
  drain(cipher_out);
  return std::nullopt;
}

void TlsConnection::drain(std::string& cipher_out) {
  char buf[16384];
  int n;
  while ((n = BIO_read(out_, buf, sizeof buf)) > 0) cipher_out.append(buf, n);
}

std::optional<std::string> TlsConnection::feed(std::span<const uint8_t> cipher, std::string& plain,
                                               std::string& cipher_out) {
  if (!cipher.empty() && BIO_write(in_, cipher.data(), static_cast<int>(cipher.size())) <= 0)
    return std::string("TLS buffer error");
  char buf[16384];
  while (true) {
    int n = SSL_read(ssl_, buf, sizeof buf);
    if (n > 0) {
      plain.append(buf, n);
      continue;
    }
    int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    drain(cipher_out);  // e.g. an alert telling the peer why
    if (err == SSL_ERROR_ZERO_RETURN) return std::string("TLS close_notify");
    return failure("TLS");
  }
  drain(cipher_out);
  return std::nullopt;
}

void TlsConnection::encrypt(std::string_view plain, std::string& cipher_out) {
  while (!plain.empty()) {
    int n = SSL_write(ssl_, plain.data(), static_cast<int>(std::min<size_t>(plain.size(), 1 << 30)));
    if (n <= 0) break;
    plain.remove_prefix(static_cast<size_t>(n));
  }
  drain(cipher_out);
}

std::optional<std::string> TlsConnection::peer_common_name() const {
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return std::nullopt;
  std::optional<std::string> cn;
  if (SSL_get_verify_result(ssl_) == X509_V_OK) {
    char buf[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    if (n > 0) cn = std::string(buf, n);
  }
  X509_free(cert);
  return cn;
}

}  // namespace musqratt::net
