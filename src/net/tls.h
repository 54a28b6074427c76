#pragma once
// TLS for kernel-socket listeners, with OpenSSL over memory BIOs: the socket moves ciphertext,
// TlsConnection turns it into the plaintext the SessionDriver consumes and back, so the
// protocol core never knows TLS is there.
#include <openssl/ssl.h>

#include <atomic>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace musqratt::net {

struct TlsSettings {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;                 // verifies client certificates; empty = none requested
  bool require_certificate = false;    // clients without a valid certificate are refused
  bool use_identity_as_username = false;  // the certificate's CN becomes the MQTT user name
};

/// A server-side SSL_CTX that can be replaced (certificate reload) while connections made with
/// the previous one carry on. Thread: any.
class TlsServerContext {
 public:
  static std::expected<std::shared_ptr<TlsServerContext>, std::string> create(const TlsSettings& s);
  /// Re-reads certificate, key and CA; on error the previous context stays in use.
  std::string reload();
  std::shared_ptr<SSL_CTX> context() const { return ctx_.load(std::memory_order_acquire); }
  const TlsSettings& settings() const { return settings_; }

 private:
  static std::expected<std::shared_ptr<SSL_CTX>, std::string> build(const TlsSettings& s);
  TlsSettings settings_;
  std::atomic<std::shared_ptr<SSL_CTX>> ctx_;
};

/// Listener fd -> its TLS context (absent = plain TCP). Filled before workers start.
using TlsListeners = std::unordered_map<int, std::shared_ptr<TlsServerContext>>;

/// TLS for connections we open (the bridge's to its upstream).
struct TlsClientSettings {
  std::string ca_file;    // verifies the server's certificate; empty = the system's CA store
  std::string cert_file;  // our certificate, when the server asks for one (optional)
  std::string key_file;   // its private key
};

/// A client-side SSL_CTX that verifies the server's certificate chain. Thread: any.
std::expected<std::shared_ptr<SSL_CTX>, std::string> make_tls_client_context(const TlsClientSettings& s);

/// Whom a client connection expects to reach.
struct TlsServerIdentity {
  std::string name;             // host name (sent as SNI) or IP address of the server
  bool verify_name = true;      // the certificate must be issued to `name`
};

/// One connection's TLS state. Thread: the owning worker only.
class TlsConnection {
 public:
  /// The server side of an accepted connection.
  explicit TlsConnection(std::shared_ptr<SSL_CTX> ctx);
  /// The client side of a connection we open to `server`; start() produces the ClientHello.
  TlsConnection(std::shared_ptr<SSL_CTX> ctx, const TlsServerIdentity& server);
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  /// Takes ciphertext from the socket; appends decrypted bytes to `plain` and any TLS output
  /// (handshake, alerts) to `cipher_out`. Returns an error text on a fatal TLS error.
  std::optional<std::string> feed(std::span<const uint8_t> cipher, std::string& plain, std::string& cipher_out);
  /// Client side: begins the handshake, appending the ClientHello to `cipher_out`, so it goes
  /// out without waiting for the server to speak.
  std::optional<std::string> start(std::string& cipher_out);
  /// Encrypts all of `plain` into `cipher_out`. Only after the handshake.
  void encrypt(std::string_view plain, std::string& cipher_out);
  bool established() const { return SSL_is_init_finished(ssl_) == 1; }
  /// The verified peer certificate's Common Name, if any.
  std::optional<std::string> peer_common_name() const;

 private:
  void drain(std::string& cipher_out);
  std::string failure(const char* what) const;
  std::shared_ptr<SSL_CTX> ctx_;  // keeps the context alive across reloads
  SSL* ssl_ = nullptr;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
};

}  // namespace musqratt::net
