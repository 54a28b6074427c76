// PackedConnectionInfo: what the HTTP API is told about a connection comes back exactly as it
// was given, whatever its lengths; and Session keeps the newest one.
#include "broker/connection_info.h"

#include <gtest/gtest.h>

#include <string>

#include "broker/session.h"

namespace musqratt::broker {
namespace {

using protocol::Version;
using std::chrono::system_clock;

TEST(PackedConnectionInfo, EmptyUntilSet) {
  PackedConnectionInfo p;
  EXPECT_TRUE(p.empty());
  EXPECT_FALSE(p.unpack().has_value());
}

TEST(PackedConnectionInfo, RoundTripsEveryField) {
  const auto at = system_clock::time_point(std::chrono::microseconds(1'764'590'000'123'456));
  for (const ConnectionInfo& info :
       {ConnectionInfo{"", "127.0.0.1:54321", Version::V311, at},
        ConnectionInfo{"alice", "[2001:db8::1]:1883", Version::V5, at},
        ConnectionInfo{std::string(300, 'u'), std::string(70, 'p'), Version::V31, system_clock::time_point{}},
        ConnectionInfo{"", "", Version::V5, at}}) {
    PackedConnectionInfo p(info);
    ASSERT_FALSE(p.empty());
    std::optional<ConnectionInfo> back = p.unpack();
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, info);
  }
}

TEST(PackedConnectionInfo, NamesLongerThanTheLengthFieldAreCut) {
  ConnectionInfo info{std::string(70000, 'u'), "peer:1", Version::V5, {}};
  std::optional<ConnectionInfo> back = PackedConnectionInfo(info).unpack();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->username.size(), 0xFFFFu);
  EXPECT_EQ(back->peer, "peer:1");
}

TEST(PackedConnectionInfo, SessionKeepsTheNewest) {
  Session s("c", 1, Version::V5, QueueLimits{});
  EXPECT_FALSE(s.connection_info().has_value());
  s.set_connection_info({"a", "127.0.0.1:1", Version::V311, {}});
  s.set_connection_info({"b", "127.0.0.1:2", Version::V5, {}});
  ASSERT_TRUE(s.connection_info().has_value());
  EXPECT_EQ(s.connection_info()->username, "b");
  EXPECT_EQ(s.connection_info()->peer, "127.0.0.1:2");
  EXPECT_EQ(s.connection_info()->version, Version::V5);
}

}  // namespace
}  // namespace musqratt::broker
