// Read access at delivery: queued messages are checked again after the ACL was reloaded (and
// only then); retained messages found by filter are checked per topic; a session whose client's
// credentials a reload withdrew is marked and its connection woken.
#include <gtest/gtest.h>

#include <fstream>

#include "broker/session.h"
#include "test_support.h"

namespace musqratt::broker {
namespace {

using protocol::Version;
using test::RecordingWaker;
using namespace std::chrono_literals;

const util::TimePoint T0 = util::TimePoint{} + 1000h;

MessagePtr msg(std::string topic, uint8_t qos = 1) {
  auto m = std::make_shared<Message>();
  m->payload = topic;
  m->topic = std::move(topic);
  m->qos = qos;
  return m;
}

Outbound ob(MessagePtr m) {
  Outbound o;
  o.qos = m->qos;
  o.msg = std::move(m);
  return o;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

class SessionAccessTest : public ::testing::Test {
 protected:
  SessionAccessTest() {
    write_file(acl_path, "user alice\ntopic read a/#\ntopic read b/#\n");
    EXPECT_EQ(access.load({"", acl_path, true}), "");
    session.attach(Link{&waker, kToken}, Version::V5);
    session.set_identity(ClientIdentity{{"alice", "c", false}, {}});
  }
  ~SessionAccessTest() override { std::remove(acl_path.c_str()); }

  std::vector<std::string> take_all() {
    std::vector<Sendable> out;
    session.take_sendable(kToken, out, 100, 100, T0);
    std::vector<std::string> topics;
    for (const Sendable& s : out) topics.push_back(s.out.msg->topic);
    return topics;
  }
  /// As the router does: the message was checked against the current tables.
  void routed(const std::string& topic) {
    Link l;
    session.deliver(ob(msg(topic)), l, access.generation());
  }

  static constexpr uint64_t kToken = 5;
  // One file per test: ctest runs the tests of this fixture in parallel processes.
  const std::string acl_path = testing::TempDir() + "session_access_test." +
                               testing::UnitTest::GetInstance()->current_test_info()->name() + ".acl";
  RecordingWaker waker;
  AccessControl access;
  MemoryBudget memory{0};
  SessionServices services{.memory = &memory, .access = &access};
  Session session{"c", 1, Version::V5, QueueLimits{}, &services};
};

TEST_F(SessionAccessTest, QueuedMessagesAreCheckedAgainAfterAReload) {
  routed("a/1");
  routed("b/1");
  routed("a/2");
  EXPECT_EQ(session.queued_count(), 3u);
  // Read access to a/# is taken away while the messages wait.
  write_file(acl_path, "user alice\ntopic read b/#\n");
  ASSERT_EQ(access.reload(), "");
  EXPECT_EQ(take_all(), (std::vector<std::string>{"b/1"}));
  EXPECT_EQ(session.queued_count(), 0u);
  EXPECT_EQ(memory.used(), Session::kEntryBytes);  // only b/1, in flight; the others given back
}

TEST_F(SessionAccessTest, NotCheckedAgainWithoutAReload) {
  // A delivery the router vouched for under the current tables is not checked twice (the
  // check at delivery costs nothing until a reload): this one would be denied if it were.
  EXPECT_TRUE(take_all().empty());  // a first look at the queue under the current tables
  routed("c/unchecked");
  EXPECT_EQ(take_all(), (std::vector<std::string>{"c/unchecked"}));
}

TEST_F(SessionAccessTest, DeliveriesNotCheckedByTheRouterAreChecked) {
  Link l;
  session.deliver(ob(msg("c/held")), l);  // e.g. a held message: generation 0
  session.deliver(ob(msg("a/held")), l);
  EXPECT_EQ(take_all(), (std::vector<std::string>{"a/held"}));
}

TEST_F(SessionAccessTest, RetainedMessagesAreCheckedPerTopic) {
  Link l;
  session.add_retained({msg("a/r"), msg("c/r"), msg("b/r")}, 1, 0, l);
  EXPECT_EQ(take_all(), (std::vector<std::string>{"a/r", "b/r"}));
}

TEST_F(SessionAccessTest, RoutedUnderOldTablesAfterTheQueueWasRecheckedIsCheckedAgain) {
  uint16_t old_generation = access.generation();
  write_file(acl_path, "user alice\ntopic read b/#\n");
  ASSERT_EQ(access.reload(), "");
  EXPECT_TRUE(take_all().empty());  // the session now knows the new tables
  Link l;
  session.deliver(ob(msg("a/late")), l, old_generation);  // a router still on the old tables
  session.deliver(ob(msg("b/late")), l, access.generation());
  EXPECT_EQ(take_all(), (std::vector<std::string>{"b/late"}));
}

TEST(SessionDeauthorize, MarksAndWakesTheOwnerUntilANewConnectionAttaches) {
  RecordingWaker w;
  Session s("c", 1, Version::V5, QueueLimits{});
  EXPECT_FALSE(s.deauthorize());  // offline: nothing to wake
  s.attach(Link{&w, 8}, Version::V5);
  Link l = s.deauthorize();
  EXPECT_EQ(l.token, 8u);
  EXPECT_TRUE(s.deauthorized());
  EXPECT_TRUE(s.is_owner(8));  // still the owner: it leaves by itself, with 0x87
  s.attach(Link{&w, 9}, Version::V5);
  EXPECT_FALSE(s.deauthorized());
}

}  // namespace
}  // namespace musqratt::broker
