// net::TlsServerContext: clear errors for bad settings, and reload() — a bad file keeps the
// previous context serving, a good one is served to new connections while connections made
// before carry on with theirs.
#include "net/tls.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tls_test_support.h"

namespace musqratt::test {
namespace {

class TlsServerContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = pki_.make_ca("ca", "Test CA");
    server_ = pki_.make_cert("server", ca_, "localhost");
  }

  /// The Common Name a new connection with `ctx` presents to a client trusting `ca_file`.
  static std::optional<std::string> served_name(const std::shared_ptr<SSL_CTX>& ctx, const std::string& ca_file) {
    net::TlsConnection server(ctx);
    MemoryTlsClient client(ca_file);
    if (auto err = handshake(client, server)) {
      ADD_FAILURE() << *err;
      return std::nullopt;
    }
    return client.server_common_name();
  }

  static void copy(const std::string& from, const std::string& to) {
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
  }

  TestPki pki_;
  TestCert ca_, server_;
};

TEST_F(TlsServerContextTest, MissingCertificateFileIsNamed) {
  net::TlsSettings s = server_settings(server_);
  s.cert_file = pki_.path("absent.crt");
  auto ctx = net::TlsServerContext::create(s);
  ASSERT_FALSE(ctx.has_value());
  EXPECT_TRUE(ctx.error().starts_with("tls_cert " + s.cert_file + ": ")) << ctx.error();
}

TEST_F(TlsServerContextTest, KeyThatDoesNotMatchTheCertificateIsRefused) {
  TestCert other = pki_.make_cert("other", ca_, "other");
  net::TlsSettings s = server_settings(server_);
  s.key_file = other.key_file;
  auto ctx = net::TlsServerContext::create(s);
  ASSERT_FALSE(ctx.has_value());
  EXPECT_TRUE(ctx.error().starts_with("tls_key " + s.key_file + ": ")) << ctx.error();
  EXPECT_NE(ctx.error().find("key values mismatch"), std::string::npos) << ctx.error();
}

TEST_F(TlsServerContextTest, RequiredClientCertificateNeedsACa) {
  net::TlsSettings s = server_settings(server_);
  s.require_certificate = true;
  auto ctx = net::TlsServerContext::create(s);
  ASSERT_FALSE(ctx.has_value());
  EXPECT_EQ(ctx.error(), "tls_require_certificate needs tls_ca");
}

TEST_F(TlsServerContextTest, UnreadableCaFileIsNamed) {
  pki_.write_file("bad-ca.crt", "not a certificate\n");
  net::TlsSettings s = server_settings(server_);
  s.ca_file = pki_.path("bad-ca.crt");
  auto ctx = net::TlsServerContext::create(s);
  ASSERT_FALSE(ctx.has_value());
  EXPECT_TRUE(ctx.error().starts_with("tls_ca " + s.ca_file + ": ")) << ctx.error();
}

TEST_F(TlsServerContextTest, ReloadWithABadCertificateFileKeepsThePreviousContext) {
  // Files of its own, so that they can be spoiled.
  copy(server_.cert_file, pki_.path("live.crt"));
  copy(server_.key_file, pki_.path("live.key"));
  net::TlsSettings s = server_settings(server_);
  s.cert_file = pki_.path("live.crt");
  s.key_file = pki_.path("live.key");
  auto created = net::TlsServerContext::create(s);
  ASSERT_TRUE(created.has_value()) << created.error();
  auto& tls = **created;
  std::shared_ptr<SSL_CTX> before = tls.context();

  pki_.write_file("live.crt", "-----BEGIN CERTIFICATE-----\ntruncated\n");
  std::string err = tls.reload();
  EXPECT_TRUE(err.starts_with("tls_cert " + s.cert_file + ": ")) << err;
  EXPECT_EQ(tls.context(), before);
  EXPECT_EQ(served_name(tls.context(), ca_.cert_file), "localhost");  // still serving

  // A certificate that is fine but does not match the key on disk: refused too.
  TestCert other = pki_.make_cert("other", ca_, "other");
  copy(other.cert_file, pki_.path("live.crt"));
  err = tls.reload();
  EXPECT_TRUE(err.starts_with("tls_key " + s.key_file + ": ")) << err;
  EXPECT_NE(err.find("key values mismatch"), std::string::npos) << err;
  EXPECT_EQ(tls.context(), before);
  EXPECT_EQ(served_name(tls.context(), ca_.cert_file), "localhost");
}

TEST_F(TlsServerContextTest, ReloadServesTheNewCertificateAndKeepsOlderConnections) {
  copy(server_.cert_file, pki_.path("live.crt"));
  copy(server_.key_file, pki_.path("live.key"));
  net::TlsSettings s = server_settings(server_);
  s.cert_file = pki_.path("live.crt");
  s.key_file = pki_.path("live.key");
  auto created = net::TlsServerContext::create(s);
  ASSERT_TRUE(created.has_value()) << created.error();
  auto& tls = **created;
  std::shared_ptr<SSL_CTX> before = tls.context();

  // A connection made before the reload.
  net::TlsConnection old_server(tls.context());
  MemoryTlsClient old_client(ca_.cert_file);
  ASSERT_FALSE(handshake(old_client, old_server));

  // Renewed by another CA, swapped in on disk, reloaded.
  TestCert new_ca = pki_.make_ca("new-ca", "New CA");
  TestCert renewed = pki_.make_cert("renewed", new_ca, "renewed");
  copy(renewed.cert_file, pki_.path("live.crt"));
  copy(renewed.key_file, pki_.path("live.key"));
  EXPECT_EQ(tls.reload(), "");
  EXPECT_NE(tls.context(), before);
  EXPECT_EQ(served_name(tls.context(), new_ca.cert_file), "renewed");

  // The older connection still has its keys and its context, both ways.
  old_client.write("ping");
  std::string cipher = old_client.take_output(), plain, back;
  auto err = old_server.feed(bytes_of(cipher), plain, back);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(plain, "ping");
  old_client.give_input(back);
  std::string reply;
  old_server.encrypt("pong", reply);
  old_client.give_input(reply);
  EXPECT_EQ(old_client.read(), "pong");
}

}  // namespace
}  // namespace musqratt::test
