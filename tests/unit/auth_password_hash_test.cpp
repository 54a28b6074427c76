// Password hashes: ours, and those written by Mosquitto's mosquitto_passwd, accepted as they are.
#include "auth/password_hash.h"

#include <gtest/gtest.h>

using namespace musqratt::auth;

namespace {
// Written by Debian's mosquitto_passwd 2.0.11: `-b pw alice secret` (its default, PBKDF2) and
// `-H sha512 -b pw bob hunter2` (Mosquitto 1.6's format).
constexpr const char* kMosquitto7 =
    "$7$101$7+PO3eokL00ExFyf$guAudpIxG0i1/8KRdeySkdkR2lT02sc0w7NeZlwuQE9gVOG5HNqw9hXndRewBdYv5TaqNRQbbnEHFQgSpIS6OQ==";
constexpr const char* kMosquitto6 =
    "$6$yOOfTwopkRk5KmRU$7zK+Qo2SFlN6F75hxkpE+hvDoLvTjUKvkCtcPA+S0P5Ww8BMZomDtock9GgytF7dOFeOG34KESsiXcLULGmR9A==";
}  // namespace

TEST(PasswordHash, OursRoundTrips) {
  std::string h = hash_password("s3cret", 1000);
  EXPECT_EQ(h.rfind("$pbkdf2-sha512$1000$", 0), 0u);
  EXPECT_TRUE(verify_password("s3cret", h));
  EXPECT_FALSE(verify_password("s3cret ", h));
  EXPECT_NE(hash_password("s3cret", 1000), h) << "salted";
}

TEST(PasswordHash, MosquittoPbkdf2AndSha512AreAccepted) {
  EXPECT_TRUE(verify_password("secret", kMosquitto7));
  EXPECT_FALSE(verify_password("Secret", kMosquitto7));
  EXPECT_TRUE(verify_password("hunter2", kMosquitto6));
  EXPECT_FALSE(verify_password("hunter3", kMosquitto6));
}

TEST(PasswordHash, ParamsDescribeTheCost) {
  auto p7 = hash_params(kMosquitto7);
  ASSERT_TRUE(p7);
  EXPECT_EQ(p7->scheme, HashScheme::MosquittoPbkdf2Sha512);
  EXPECT_EQ(p7->iterations, 101u);
  EXPECT_EQ(p7->salt_bytes, 12u);
  EXPECT_EQ(p7->key_bytes, 64u);
  auto p6 = hash_params(kMosquitto6);
  ASSERT_TRUE(p6);
  EXPECT_EQ(p6->scheme, HashScheme::MosquittoSha512);
  auto ours = hash_params(hash_password("x", 1234));
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->scheme, HashScheme::Pbkdf2Sha512);
  EXPECT_EQ(ours->iterations, 1234u);
}

TEST(PasswordHash, HashesLikeAnotherHaveItsParametersAndVerify) {
  for (const char* stored : {kMosquitto7, kMosquitto6}) {
    auto p = hash_params(stored);
    ASSERT_TRUE(p);
    std::string h = hash_password_like("pw", *p);
    EXPECT_EQ(hash_params(h), p) << h;
    EXPECT_TRUE(verify_password("pw", h));
    EXPECT_EQ(h.substr(0, 3), std::string(stored).substr(0, 3));
  }
}

TEST(PasswordHash, MalformedHashesNeverVerify) {
  for (const char* bad : {"", "secret", "$7$", "$7$0$AAAA$AAAA", "$7$101$$AAAA", "$7$101$AAAA$", "$6$AAAA$AAAA",
                          "$pbkdf2-sha512$x$AAAA$AAAA", "$5$AAAA$AAAA", "$7$999999999999$AAAA$AAAA"}) {
    EXPECT_FALSE(verify_password("", bad)) << bad;
    EXPECT_FALSE(hash_params(bad)) << bad;
  }
}
