// Session expiry as housekeeping sees it: only offline sessions are watched, and every way a
// session goes offline (disconnect, a resume followed by another disconnect, adoption by a
// cluster link) leads to its expiry; a session that came back is never expired by the deadline
// of its earlier absence.
#include <gtest/gtest.h>

#include "broker/session_driver.h"
#include "handler_fixture.h"

namespace musqratt::test {
namespace {

constexpr uint32_t kNeverExpires = 0xFFFFFFFF;

class SessionExpiryTest : public HandlerTest {
 protected:
  /// Connects `id` resuming its session (clean start off), expecting it present or not.
  TestClient& resume(const std::string& id, uint32_t expiry, util::TimePoint now, bool present) {
    return connect(Version::V5, id, false, expiry, now, present);
  }
  bool has(const std::string& id) const { return broker->find_session(id) != nullptr; }
};

TEST_F(SessionExpiryTest, ResumedSessionIsNotExpiredByItsEarlierDeadline) {
  auto& first = connect(Version::V5, "back", false, 30u);
  first.handler.on_closed(T0);
  auto& second = resume("back", 30, T0 + 10s, true);
  broker->housekeeping(T0 + 31s);  // the first absence's deadline: online again, so kept
  EXPECT_TRUE(has("back"));
  EXPECT_TRUE(second.handler.connected());
  second.handler.on_closed(T0 + 50s);  // offline again: 30 s from now
  broker->housekeeping(T0 + 79s);
  EXPECT_TRUE(has("back"));
  broker->housekeeping(T0 + 81s);
  EXPECT_FALSE(has("back"));
}

TEST_F(SessionExpiryTest, NeverExpiringSessionStaysAndExpiresOnceItsIntervalIsFinite) {
  auto& first = connect(Version::V5, "forever", false, kNeverExpires);
  first.handler.on_closed(T0);
  broker->housekeeping(T0 + 24h * 365);
  EXPECT_TRUE(has("forever"));
  auto& second = resume("forever", 5, T0 + 24h * 365, true);
  second.handler.on_closed(T0 + 24h * 365 + 1s);
  broker->housekeeping(T0 + 24h * 365 + 5s);
  EXPECT_TRUE(has("forever"));
  broker->housekeeping(T0 + 24h * 365 + 7s);
  EXPECT_FALSE(has("forever"));
}

TEST_F(SessionExpiryTest, ConnectedSessionsNeverExpire) {
  auto& a = connect(Version::V5, "online-a", false, 1u);
  auto& b = connect(Version::V311, "online-b", false);
  broker->housekeeping(T0 + 24h);
  EXPECT_TRUE(has("online-a"));
  EXPECT_TRUE(has("online-b"));
  EXPECT_TRUE(a.handler.connected());
  EXPECT_TRUE(b.handler.connected());
}

TEST_F(SessionExpiryTest, ManyOfflineAmongManyOnlineExpireTogether) {
  for (int i = 0; i < 200; ++i) connect(Version::V5, "on-" + std::to_string(i), false, 10u);
  std::vector<TestClient*> leaving;
  for (int i = 0; i < 50; ++i) leaving.push_back(&connect(Version::V5, "off-" + std::to_string(i), false, 10u));
  for (TestClient* c : leaving) c->handler.on_closed(T0 + 1s);
  EXPECT_EQ(broker->session_count(), 250u);
  broker->housekeeping(T0 + 10s);
  EXPECT_EQ(broker->session_count(), 250u);
  broker->housekeeping(T0 + 12s);
  EXPECT_EQ(broker->session_count(), 200u);
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(has("off-" + std::to_string(i)));
}

TEST_F(SessionExpiryTest, SessionAdoptedForAClientThatNeverComesExpires) {
  start();
  broker->prepare_adoption("adopted", 20, {}, T0);
  broker->housekeeping(T0 + 19s);
  EXPECT_TRUE(has("adopted"));
  broker->housekeeping(T0 + 21s);
  EXPECT_FALSE(has("adopted"));
}

TEST_F(SessionExpiryTest, CleanStartReplacingAnOfflineSessionLeavesNothingToExpire) {
  auto& first = connect(Version::V5, "replaced", false, 5u);
  first.handler.on_closed(T0);
  auto& second = connect(Version::V5, "replaced", true, 3600u, T0 + 1s);  // the old session ends here
  broker->housekeeping(T0 + 10s);  // the old deadline passes; the new session is online
  EXPECT_TRUE(has("replaced"));
  EXPECT_TRUE(second.handler.connected());
}

}  // namespace
}  // namespace musqratt::test
