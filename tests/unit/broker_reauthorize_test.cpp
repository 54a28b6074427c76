// After a reload of the password file, connected clients whose user was removed or whose
// password changed are marked and their connections woken; others are left alone.
#include <gtest/gtest.h>

#include <fstream>

#include "auth/password_file.h"
#include "auth/password_hash.h"
#include "broker/broker.h"
#include "test_support.h"

namespace musqratt::broker {
namespace {

using protocol::Version;
using test::RecordingWaker;
using namespace std::chrono_literals;

const util::TimePoint T0 = util::TimePoint{} + 1000h;

class BrokerReauthorizeTest : public ::testing::Test {
 protected:
  BrokerReauthorizeTest() {
    write({{"alice", "a"}, {"bob", "b"}, {"carol", "c"}});
    BrokerConfig c;
    c.sys_interval = 0;
    c.password_file = path;
    c.allow_anonymous = true;
    broker = std::make_unique<Broker>(c);
    broker->housekeeping(T0);  // settles on the tables loaded at start
  }
  ~BrokerReauthorizeTest() override { std::remove(path.c_str()); }

  /// Writes the password file; a user whose password is unchanged keeps its stored hash, as
  /// `musqratt-cli passwd` leaves the other users' lines alone.
  void write(const std::vector<std::pair<std::string, std::string>>& users) {
    auth::PasswordTable t;
    for (const auto& [u, p] : users) {
      auto old = written.find(u);
      t[u] = old != written.end() && auth::verify_password(p, old->second) ? old->second : auth::hash_password(p, 1000);
    }
    ASSERT_TRUE(auth::write_password_file(path, t).has_value());
    written = t;
  }
  SessionPtr connect(const std::string& client, std::optional<std::string> user, std::optional<std::string> pw,
                     uint64_t token, bool by_certificate = false) {
    auto s = broker->connect(ConnectRequest{client, true, 0, Version::V5, Link{&waker, token}}, T0).session;
    auth::Identity who;
    if (by_certificate) {
      who = auth::Identity{*user, client, false};
    } else {
      EXPECT_EQ(broker->access().authenticate(user, pw, client, who), protocol::Reason::Success);
    }
    broker->set_identity(s, who, by_certificate);
    return s;
  }

  // One file per test: ctest runs the tests of this fixture in parallel processes.
  const std::string path = testing::TempDir() + "broker_reauthorize_test." +
                           testing::UnitTest::GetInstance()->current_test_info()->name() + ".passwords";
  auth::PasswordTable written;
  RecordingWaker waker;
  std::unique_ptr<Broker> broker;
};

TEST_F(BrokerReauthorizeTest, RemovedUserAndChangedPasswordAreDisconnected) {
  auto alice = connect("ca", "alice", "a", 1);
  auto bob = connect("cb", "bob", "b", 2);
  auto carol = connect("cc", "carol", "c", 3);
  auto anon = connect("cn", std::nullopt, std::nullopt, 4);
  auto cert = connect("ct", "dave", std::nullopt, 5, true);  // not in the file: by certificate
  EXPECT_EQ(broker->reauthorize(), 0u);  // nothing changed yet

  write({{"bob", "b"}, {"carol", "new password"}});  // alice removed, carol's password changed
  ASSERT_EQ(broker->access().reload(), "");
  waker.tokens.clear();
  broker->housekeeping(T0 + 1s);  // notices the reload
  EXPECT_TRUE(alice->deauthorized());
  EXPECT_FALSE(bob->deauthorized());
  EXPECT_TRUE(carol->deauthorized());
  EXPECT_FALSE(anon->deauthorized());
  EXPECT_FALSE(cert->deauthorized());
  EXPECT_TRUE(waker.woke(1));
  EXPECT_TRUE(waker.woke(3));
  EXPECT_FALSE(waker.woke(2));
  waker.tokens.clear();
  broker->housekeeping(T0 + 2s);  // once per reload
  EXPECT_TRUE(waker.tokens.empty());
}

TEST_F(BrokerReauthorizeTest, IdentityIsKeptOnlyWhenSomethingChecksIt) {
  auto anon = connect("cn", std::nullopt, std::nullopt, 1);
  EXPECT_TRUE(anon->client_identity()->anonymous);
  auto alice = connect("ca", "alice", "a", 2);
  EXPECT_EQ(alice->client_identity()->username, "alice");
  EXPECT_EQ(alice->client_identity()->credentials.kind, Credentials::Kind::Password);
}

}  // namespace
}  // namespace musqratt::broker
