// Credentials: an unknown user name costs the same work as a wrong password for a known one.
#include "auth/credentials.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

using namespace musqratt::auth;

namespace {

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double ms_to_refuse(const Credentials& c, const std::string& user) {
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.verify(user, "wrong password"));
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST(Credentials, KnownUsersVerifyUnknownNever) {
  auto c = Credentials::make({{"alice", hash_password("wonderland", 1000)}}, "test");
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->verify("alice", "wonderland"));
  EXPECT_FALSE(c->verify("alice", "x"));
  EXPECT_FALSE(c->verify("mallory", "wonderland"));
  EXPECT_FALSE(c->verify("", ""));
}

TEST(Credentials, UnknownUserTakesAsLongAsAWrongPassword) {
  // 20 000 rounds: about 10 ms, far above the noise of a lookup (a few microseconds).
  auto c = Credentials::make({{"alice", hash_password("wonderland")}, {"bob", hash_password("builder")}}, "test");
  ASSERT_TRUE(c);
  // Interleaved, so a change in the machine's load hits both alike.
  std::vector<double> k, u;
  for (int i = 0; i < 9; ++i) {
    k.push_back(ms_to_refuse(*c, "alice"));
    u.push_back(ms_to_refuse(*c, "nobody"));
  }
  double known = median(k), unknown = median(u);
  EXPECT_GT(known, 1.0);
  // Before: a lookup (microseconds) against a key derivation (milliseconds).
  EXPECT_GT(unknown, known * 0.4) << "known " << known << " ms, unknown " << unknown << " ms";
  EXPECT_LT(unknown, known * 2.5) << "known " << known << " ms, unknown " << unknown << " ms";
}

TEST(Credentials, DummyTakesTheMostCommonParameters) {
  PasswordTable t{{"a", hash_password("1", 3000)}, {"b", hash_password("2", 3000)}, {"c", hash_password("3", 500)}};
  auto c = Credentials::make(t, "test");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dummy_params().iterations, 3000u);
  EXPECT_EQ(c->dummy_params().scheme, HashScheme::Pbkdf2Sha512);
  EXPECT_EQ(c->weak_hashes(), 0u);
}

TEST(Credentials, MosquittoTablesGetAMosquittoDummyAndWeakHashesAreCounted) {
  PasswordTable t{{"a", hash_password_like("1", {HashScheme::MosquittoPbkdf2Sha512, 101, 12, 64})},
                  {"b", hash_password_like("2", {HashScheme::MosquittoPbkdf2Sha512, 101, 12, 64})},
                  {"c", hash_password_like("3", {HashScheme::MosquittoSha512, 1, 12, 64})}};
  auto c = Credentials::make(t, "pw");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->dummy_params().scheme, HashScheme::MosquittoPbkdf2Sha512);
  EXPECT_EQ(c->weak_hashes(), 1u);
  EXPECT_TRUE(c->verify("c", "3"));
}

TEST(Credentials, PlainTextPasswordsAreRefusedNamingTheUserNotThePassword) {
  auto c = Credentials::make({{"alice", "wonderland"}}, "/etc/pw");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("/etc/pw: user 'alice'"), std::string::npos) << c.error();
  EXPECT_EQ(c.error().find("wonderland"), std::string::npos) << c.error();
}
