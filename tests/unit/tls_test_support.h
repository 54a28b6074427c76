#pragma once
// Helpers for the TLS unit tests: throw-away certificates made with OpenSSL's API into a
// temporary directory (a CA and the certificates it signs, as the PEM files the code under
// test reads), and an OpenSSL client over memory buffers to talk to a net::TlsConnection.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "net/tls.h"

namespace musqratt::test {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

/// A key and its certificate, in memory and as PEM files.
struct TestCert {
  PkeyPtr key{nullptr, EVP_PKEY_free};
  X509Ptr cert{nullptr, X509_free};
  std::string key_file;
  std::string cert_file;
};

/// Certificates for one test, in a temporary directory removed with it.
class TestPki {
 public:
  TestPki() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "musqratt-tls-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
  }
  ~TestPki() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::string path(std::string_view file) const { return (dir_ / file).string(); }

  /// A self-signed CA; files NAME.key and NAME.crt.
  TestCert make_ca(const std::string& name, const std::string& cn) {
    TestCert c = make(name, cn, nullptr);
    return c;
  }
  /// A certificate for `cn` signed by `ca` (subjectAltName DNS:localhost, so that it serves as
  /// a server certificate too); files NAME.key and NAME.crt.
  TestCert make_cert(const std::string& name, const TestCert& ca, const std::string& cn) {
    return make(name, cn, &ca);
  }
  void write_file(std::string_view file, std::string_view text) const {
    std::ofstream(path(file), std::ios::binary | std::ios::trunc) << text;
  }

 private:
  TestCert make(const std::string& name, const std::string& cn, const TestCert* ca) {
    TestCert c;
    c.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!c.key) throw std::runtime_error("key generation failed");
    c.cert.reset(X509_new());
    X509* x = c.cert.get();
    X509_set_version(x, 2);  // v3: extensions
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
    X509_set_pubkey(x, c.key.get());
    X509_NAME* subject = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()),
                               -1, -1, 0);
    X509* issuer = ca ? ca->cert.get() : x;
    X509_set_issuer_name(x, X509_get_subject_name(issuer));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
    auto add = [&](int nid, const char* value) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      if (!ext) throw std::runtime_error(std::string("certificate extension ") + value);
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    };
    if (ca) {
      add(NID_basic_constraints, "critical,CA:FALSE");
      add(NID_subject_alt_name, "DNS:localhost");
    } else {
      add(NID_basic_constraints, "critical,CA:TRUE");
      add(NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    add(NID_subject_key_identifier, "hash");
    if (X509_sign(x, ca ? ca->key.get() : c.key.get(), EVP_sha256()) == 0)
      throw std::runtime_error("signing failed");
    c.key_file = path(name + ".key");
    c.cert_file = path(name + ".crt");
    std::unique_ptr<BIO, decltype(&BIO_free)> kb(BIO_new_file(c.key_file.c_str(), "w"), BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> cb(BIO_new_file(c.cert_file.c_str(), "w"), BIO_free);
    if (!kb || !cb || PEM_write_bio_PrivateKey(kb.get(), c.key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
        PEM_write_bio_X509(cb.get(), x) != 1)
      throw std::runtime_error("writing " + name + " failed");
    return c;
  }

  std::filesystem::path dir_;
  long serial_ = 0;
};

/// Server settings for a certificate and key (and optionally a CA for client certificates).
inline net::TlsSettings server_settings(const TestCert& server, const TestCert* client_ca = nullptr,
                                        bool require = false) {
  net::TlsSettings s;
  s.cert_file = server.cert_file;
  s.key_file = server.key_file;
  if (client_ca) s.ca_file = client_ca->cert_file;
  s.require_certificate = require;
  return s;
}

/// An OpenSSL client over memory buffers that verifies the server against `ca_file` and the
/// name "localhost", optionally presenting a certificate. The test moves the ciphertext.
/// OpenSSL's error queue is per thread and shared with the server side: the client empties it
/// after each call so that the server's error texts are its own.
class MemoryTlsClient {
 public:
  explicit MemoryTlsClient(const std::string& ca_file, const TestCert* own = nullptr) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_.get(), ca_file.c_str(), nullptr) != 1)
      throw std::runtime_error("client CA " + ca_file);
    if (own && (SSL_CTX_use_certificate(ctx_.get(), own->cert.get()) != 1 ||
                SSL_CTX_use_PrivateKey(ctx_.get(), own->key.get()) != 1))
      throw std::runtime_error("client certificate");
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set1_host(ssl_.get(), "localhost");
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_.get(), in_, out_);  // owned by ssl_ from here
    SSL_set_connect_state(ssl_.get());
  }

  SSL* ssl() { return ssl_.get(); }
  bool established() const { return SSL_is_init_finished(ssl_.get()) == 1; }
  /// The last fatal error the client saw (e.g. an alert from the server), else empty.
  const std::string& error() const { return error_; }

  /// Advances the handshake as far as the input allows.
  void handshake() { check(SSL_do_handshake(ssl_.get())); }
  /// Ciphertext the client has produced since the last call.
  std::string take_output() {
    std::string out;
    char buf[16384];
    int n;
    while ((n = BIO_read(out_, buf, sizeof buf)) > 0) out.append(buf, n);
    return out;
  }
  void give_input(std::string_view cipher) {
    if (!cipher.empty()) BIO_write(in_, cipher.data(), static_cast<int>(cipher.size()));
  }
  void write(std::string_view plain) {
    while (!plain.empty()) {
      int n = SSL_write(ssl_.get(), plain.data(), static_cast<int>(plain.size()));
      if (n <= 0) {
        check(n);
        return;
      }
      plain.remove_prefix(static_cast<size_t>(n));
    }
  }
  /// Decrypts whatever input has been given.
  std::string read() {
    std::string plain;
    char buf[16384];
    while (true) {
      int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n <= 0) {
        check(n);
        return plain;
      }
      plain.append(buf, n);
    }
  }
  /// The Common Name of the certificate the server presented.
  std::optional<std::string> server_common_name() {
    X509Ptr cert(SSL_get1_peer_certificate(ssl_.get()), X509_free);
    if (!cert) return std::nullopt;
    char buf[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, buf, sizeof buf);
    if (n <= 0) return std::nullopt;
    return std::string(buf, n);
  }

 private:
  void check(int ret) {
    int err = SSL_get_error(ssl_.get(), ret);
    if (ret > 0 || err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
    unsigned long e = ERR_get_error();
    char buf[256] = "no error text";
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    error_ = buf;
    ERR_clear_error();
  }

  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_{nullptr, SSL_CTX_free};
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_{nullptr, SSL_free};
  BIO* in_ = nullptr;
  BIO* out_ = nullptr;
  std::string error_;
};

/// Moves the handshake's ciphertext between a client and a server connection until both
/// are done, or one fails (then returns the server's error text, or the client's).
inline std::optional<std::string> handshake(MemoryTlsClient& client, net::TlsConnection& server) {
  std::string plain, to_client;
  for (int round = 0; round < 20; ++round) {
    client.handshake();
    if (!client.error().empty()) return "client: " + client.error();
    std::string to_server = client.take_output();
    if (!to_server.empty()) {
      to_client.clear();
      auto err = server.feed({reinterpret_cast<const uint8_t*>(to_server.data()), to_server.size()}, plain,
                             to_client);
      client.give_input(to_client);
      if (err) return err;
    }
    if (client.established() && server.established() && to_server.empty()) return std::nullopt;
  }
  return std::string("handshake did not finish in 20 rounds");
}

inline std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace musqratt::test
