// net::TlsConnection, the server side of TLS over memory buffers: a full handshake with an
// OpenSSL client, application data both ways (whole and byte by byte), error texts for
// garbage and for close_notify, and the Common Name of a verified client certificate.
#include "net/tls.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tls_test_support.h"

namespace musqratt::test {
namespace {

class TlsConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = pki_.make_ca("ca", "Test CA");
    server_ = pki_.make_cert("server", ca_, "localhost");
  }

  std::shared_ptr<SSL_CTX> context(const net::TlsSettings& s) {
    auto ctx = net::TlsServerContext::create(s);
    EXPECT_TRUE(ctx.has_value()) << ctx.error();
    contexts_.push_back(*ctx);
    return (*ctx)->context();
  }

  /// Client data to the server, in pieces of `chunk` bytes; returns the plaintext.
  static std::string to_server(MemoryTlsClient& client, net::TlsConnection& server, std::string_view data,
                               size_t chunk = SIZE_MAX) {
    client.write(data);
    std::string cipher = client.take_output();
    std::string plain, back;
    for (size_t off = 0; off < cipher.size(); off += chunk) {
      auto piece = std::string_view(cipher).substr(off, chunk);
      auto err = server.feed(bytes_of(piece), plain, back);
      EXPECT_FALSE(err) << *err;
    }
    client.give_input(back);
    return plain;
  }

  /// Server data to the client; returns what the client decrypts.
  static std::string to_client(MemoryTlsClient& client, net::TlsConnection& server, std::string_view data) {
    std::string cipher;
    server.encrypt(data, cipher);
    client.give_input(cipher);
    return client.read();
  }

  TestPki pki_;
  TestCert ca_, server_;
  std::vector<std::shared_ptr<net::TlsServerContext>> contexts_;
};

TEST_F(TlsConnectionTest, FullHandshakeOverMemoryBuffers) {
  net::TlsConnection server(context(server_settings(server_)));
  MemoryTlsClient client(ca_.cert_file);
  EXPECT_FALSE(server.established());
  auto err = handshake(client, server);
  ASSERT_FALSE(err) << *err;
  EXPECT_TRUE(server.established());
  EXPECT_TRUE(client.established());
  EXPECT_EQ(client.server_common_name(), "localhost");  // verified against the CA by the client
  EXPECT_EQ(server.peer_common_name(), std::nullopt);   // no client certificate asked for
  EXPECT_GE(SSL_version(client.ssl()), TLS1_2_VERSION);
}

TEST_F(TlsConnectionTest, ApplicationDataBothWays) {
  net::TlsConnection server(context(server_settings(server_)));
  MemoryTlsClient client(ca_.cert_file);
  ASSERT_FALSE(handshake(client, server));

  const std::string connect("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", 14);
  const std::string connack("\x20\x02\x00\x00", 4);
  EXPECT_EQ(to_server(client, server, connect), connect);
  EXPECT_EQ(to_client(client, server, connack), connack);

  // Larger than one TLS record (16 KiB) each way, and not a multiple of it.
  std::string big(200 * 1024 + 7, '\0');
  std::mt19937 rng(42);
  for (char& c : big) c = static_cast<char>(rng());
  EXPECT_EQ(to_server(client, server, big), big);
  EXPECT_EQ(to_client(client, server, big), big);
}

TEST_F(TlsConnectionTest, CiphertextFedOneByteAtATime) {
  net::TlsConnection server(context(server_settings(server_)));
  MemoryTlsClient client(ca_.cert_file);
  // The handshake too: a record split anywhere waits for its remaining bytes.
  std::string plain, to_client_bytes;
  for (int round = 0; round < 20 && !(server.established() && client.established()); ++round) {
    client.handshake();
    ASSERT_EQ(client.error(), "");
    std::string cipher = client.take_output();
    for (char c : cipher) {
      auto err = server.feed(bytes_of(std::string_view(&c, 1)), plain, to_client_bytes);
      ASSERT_FALSE(err) << *err;
    }
    client.give_input(to_client_bytes);
    to_client_bytes.clear();
  }
  ASSERT_TRUE(server.established());
  EXPECT_EQ(plain, "");
  EXPECT_EQ(to_server(client, server, "published payload", 1), "published payload");
}

TEST_F(TlsConnectionTest, GarbageInsteadOfAHandshakeGivesAnErrorText) {
  net::TlsConnection server(context(server_settings(server_)));
  std::string plain, out;
  // A plain MQTT CONNECT on the TLS port: not a TLS record.
  std::string garbage("\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00", 14);
  auto err = server.feed(bytes_of(garbage), plain, out);
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->starts_with("TLS: ")) << *err;
  EXPECT_GT(err->size(), 5u) << "no reason given";
  EXPECT_EQ(plain, "");
  EXPECT_FALSE(server.established());
}

TEST_F(TlsConnectionTest, ForgedRecordAfterTheHandshakeGivesAnErrorTextAndAnAlert) {
  net::TlsConnection server(context(server_settings(server_)));
  MemoryTlsClient client(ca_.cert_file);
  ASSERT_FALSE(handshake(client, server));
  // An application-data record whose content was not encrypted with the session's keys.
  std::string record("\x17\x03\x03\x00\x40", 5);
  std::mt19937 rng(7);
  for (int i = 0; i < 0x40; ++i) record.push_back(static_cast<char>(rng()));
  std::string plain, alert;
  auto err = server.feed(bytes_of(record), plain, alert);
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->starts_with("TLS: ")) << *err;
  EXPECT_NE(err->find("bad record mac"), std::string::npos) << *err;
  EXPECT_EQ(plain, "");
  // The alert tells the client why.
  ASSERT_FALSE(alert.empty());
  client.give_input(alert);
  client.read();
  EXPECT_NE(client.error().find("alert"), std::string::npos) << client.error();
}

TEST_F(TlsConnectionTest, CloseNotifyIsReported) {
  net::TlsConnection server(context(server_settings(server_)));
  MemoryTlsClient client(ca_.cert_file);
  ASSERT_FALSE(handshake(client, server));
  SSL_shutdown(client.ssl());
  std::string cipher = client.take_output(), plain, out;
  auto err = server.feed(bytes_of(cipher), plain, out);
  ASSERT_TRUE(err);
  EXPECT_EQ(*err, "TLS close_notify");
}

TEST_F(TlsConnectionTest, CommonNameOfAVerifiedClientCertificate) {
  TestCert device = pki_.make_cert("device", ca_, "device-42");
  net::TlsConnection server(context(server_settings(server_, &ca_, /*require=*/true)));
  MemoryTlsClient client(ca_.cert_file, &device);
  auto err = handshake(client, server);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(server.peer_common_name(), "device-42");
  EXPECT_EQ(to_server(client, server, "after"), "after");
}

TEST_F(TlsConnectionTest, ClientCertificateIsOptionalUnlessRequired) {
  net::TlsConnection server(context(server_settings(server_, &ca_, /*require=*/false)));
  MemoryTlsClient client(ca_.cert_file);
  auto err = handshake(client, server);
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(server.peer_common_name(), std::nullopt);
}

TEST_F(TlsConnectionTest, MissingClientCertificateIsRefusedWhenRequired) {
  net::TlsConnection server(context(server_settings(server_, &ca_, /*require=*/true)));
  MemoryTlsClient client(ca_.cert_file);
  auto err = handshake(client, server);
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->starts_with("TLS: ")) << *err;
  EXPECT_NE(err->find("certificate"), std::string::npos) << *err;
  EXPECT_FALSE(server.established());
  EXPECT_EQ(server.peer_common_name(), std::nullopt);
}

TEST_F(TlsConnectionTest, ClientCertificateFromAnotherCaIsRefused) {
  TestCert other_ca = pki_.make_ca("other-ca", "Other CA");
  TestCert stranger = pki_.make_cert("stranger", other_ca, "stranger");
  net::TlsConnection server(context(server_settings(server_, &ca_, /*require=*/true)));
  MemoryTlsClient client(ca_.cert_file, &stranger);
  auto err = handshake(client, server);
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->starts_with("TLS: ")) << *err;
  EXPECT_NE(err->find("certificate verify failed"), std::string::npos) << *err;
  EXPECT_FALSE(server.established());
  EXPECT_EQ(server.peer_common_name(), std::nullopt);
}

}  // namespace
}  // namespace musqratt::test
