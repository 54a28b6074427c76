// Retained messages on SUBSCRIBE are streamed from the session as the receive window allows:
// all of them, however many [MQTT-3.3.1-6], in queue order, with the retain flag and the
// subscription's QoS cap; queued and in-flight entries are charged to the memory budget and
// given back.
#include <gtest/gtest.h>

#include "broker/session.h"
#include "test_support.h"

namespace musqratt::broker {
namespace {

using protocol::Version;
using test::RecordingWaker;
using namespace std::chrono_literals;

const util::TimePoint T0 = util::TimePoint{} + 1000h;

MessagePtr msg(std::string topic, std::string payload, uint8_t qos = 1,
               std::optional<util::TimePoint> expires = std::nullopt) {
  auto m = std::make_shared<Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  m->retain = true;
  m->expires_at = expires;
  return m;
}

Outbound ob(MessagePtr m, uint8_t qos) {
  Outbound o;
  o.msg = std::move(m);
  o.qos = qos;
  return o;
}

class SessionRetainedTest : public ::testing::Test {
 protected:
  SessionRetainedTest() { session.attach(Link{&waker, kToken}, Version::V5); }

  /// Takes what the window allows and acknowledges it all, as a connection would.
  std::vector<Sendable> take_and_ack(size_t window = 10, util::TimePoint now = T0) {
    std::vector<Sendable> out;
    session.take_sendable(kToken, out, window, 64, now);
    for (const Sendable& s : out) {
      if (s.out.qos == 1) {
        EXPECT_TRUE(session.on_puback(s.packet_id));
      }
    }
    return out;
  }
  std::vector<std::string> payloads_until_empty(size_t window = 10) {
    std::vector<std::string> got;
    for (int rounds = 0; rounds < 100'000; ++rounds) {
      auto out = take_and_ack(window);
      if (out.empty()) break;
      for (const Sendable& s : out) got.push_back(s.out.msg->payload);
    }
    return got;
  }

  static constexpr uint64_t kToken = 3;
  RecordingWaker waker;
  MemoryBudget memory{0};
  AccessControl access;  // no ACL
  SessionServices services{.memory = &memory, .access = &access};
  Session session{"c", 1, Version::V5, QueueLimits{.max_messages = 100}, &services};
};

TEST_F(SessionRetainedTest, EveryRetainedMessageIsSentWithinTheWindowBeyondTheQueueLimit) {
  constexpr int kTopics = 20'000;  // 200 times the queue limit
  std::vector<MessagePtr> retained;
  for (int i = 0; i < kTopics; ++i) retained.push_back(msg("r/" + std::to_string(i), std::to_string(i)));
  Link wake;
  EXPECT_EQ(session.add_retained(retained, 1, 42, wake), Session::DeliverResult::QueuedWake);
  EXPECT_EQ(wake.token, kToken);
  EXPECT_EQ(session.queued_count(), size_t{kTopics});

  std::vector<Sendable> first;
  session.take_sendable(kToken, first, 10, 64, T0);
  ASSERT_EQ(first.size(), 10u);  // no more than the window
  EXPECT_TRUE(first[0].out.retain);  // [MQTT-3.3.1-8]
  EXPECT_EQ(first[0].out.qos, 1);
  EXPECT_EQ(first[0].out.subscription_ids, std::vector<uint32_t>{42});
  EXPECT_EQ(session.inflight_count(), 10u);
  for (const Sendable& s : first) session.on_puback(s.packet_id);

  auto rest = payloads_until_empty();
  ASSERT_EQ(rest.size(), size_t{kTopics} - 10);
  for (int i = 10; i < kTopics; ++i) ASSERT_EQ(rest[i - 10], std::to_string(i));
  EXPECT_EQ(session.queued_count(), 0u);
  retained.clear();
  EXPECT_EQ(memory.used(), 0u);  // the batch and every in-flight entry were given back
}

TEST_F(SessionRetainedTest, RetainedGoBetweenWhatWasQueuedBeforeAndAfter) {
  Link l;
  session.deliver(ob(msg("a", "before"), 1), l);
  session.add_retained({msg("r/1", "r1"), msg("r/2", "r2")}, 1, 0, l);
  session.deliver(ob(msg("r/1", "after"), 1), l);  // newer than the retained r1: must come later
  EXPECT_EQ(payloads_until_empty(1), (std::vector<std::string>{"before", "r1", "r2", "after"}));
}

TEST_F(SessionRetainedTest, QosIsCappedBySubscriptionAndExpiredAreSkipped) {
  Link l;
  session.add_retained({msg("a", "q2", 2), msg("b", "q0", 0), msg("c", "old", 1, T0 + 1s), msg("d", "q1", 1)}, 1, 0, l);
  std::vector<Sendable> out;
  session.take_sendable(kToken, out, 10, 64, T0 + 5s);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].out.msg->payload, "q2");
  EXPECT_EQ(out[0].out.qos, 1);  // min(2, 1)
  EXPECT_EQ(out[1].out.msg->payload, "q0");
  EXPECT_EQ(out[1].out.qos, 0);
  EXPECT_EQ(out[1].packet_id, 0);
  EXPECT_EQ(out[2].out.msg->payload, "q1");
}

TEST_F(SessionRetainedTest, OfflineKeepsOnlyQos1And2) {
  Link l;
  session.add_retained({msg("a", "q0", 0), msg("b", "q1", 1), msg("c", "q0-too", 0)}, 1, 0, l);
  session.add_retained({msg("z", "zero-sub", 1)}, 0, 0, l);  // a QoS 0 subscription
  ASSERT_TRUE(session.detach(kToken, T0));
  EXPECT_EQ(session.queued_count(), 1u);
  session.attach(Link{&waker, kToken + 1}, Version::V5);
  std::vector<Sendable> out;
  session.take_sendable(kToken + 1, out, 10, 64, T0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].out.msg->payload, "q1");
}

TEST_F(SessionRetainedTest, NothingToSendIsNotQueued) {
  Link l;
  EXPECT_EQ(session.add_retained({}, 1, 0, l), Session::DeliverResult::NotQueued);
  EXPECT_EQ(session.queued_count(), 0u);
}

TEST_F(SessionRetainedTest, EntriesAreChargedAndGivenBackOnEveryPath) {
  Link l;
  for (int i = 0; i < 5; ++i) session.deliver(ob(msg("t", "x", 1), 1), l);
  session.deliver(ob(msg("t", "q0", 0), 0), l);
  session.add_retained({msg("r", "r")}, 1, 0, l);
  EXPECT_EQ(memory.used(), 6 * Session::kEntryBytes + sizeof(MessagePtr));
  std::vector<Sendable> out;
  session.take_sendable(kToken, out, 2, 64, T0);  // two in flight, the rest queued
  EXPECT_EQ(memory.used(), 6 * Session::kEntryBytes + sizeof(MessagePtr));
  EXPECT_TRUE(session.on_puback(out[0].packet_id));
  EXPECT_EQ(memory.used(), 5 * Session::kEntryBytes + sizeof(MessagePtr));
  session.drain_all();
  EXPECT_EQ(memory.used(), 0u);
  session.deliver(ob(msg("t", "x", 1), 1), l);
  EXPECT_EQ(memory.used(), Session::kEntryBytes);
}

TEST(SessionMemory, DestroyedSessionGivesBackWhatItHeld) {
  MemoryBudget memory(0);
  SessionServices services{.memory = &memory};
  {
    RecordingWaker w;
    Session s("c", 1, Version::V5, QueueLimits{}, &services);
    s.attach(Link{&w, 1}, Version::V5);
    Link l;
    for (int i = 0; i < 3; ++i) s.deliver(ob(msg("t", "x", 1), 1), l);
    s.add_retained({msg("r", "r")}, 1, 0, l);
    std::vector<Sendable> out;
    s.take_sendable(1, out, 1, 64, T0);
    EXPECT_GT(memory.used(), 0u);
  }
  EXPECT_EQ(memory.used(), 0u);
}

size_t count_lines(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

/// The drop log line of `interval` for five drops, as captured from stderr.
std::string drop_log(util::Clock::duration interval, uint64_t& dropped) {
  RecordingWaker w;
  SessionServices services{.drop_log_interval = interval};
  Session s("slow-client", 1, Version::V5, QueueLimits{.max_messages = 1}, &services);
  s.attach(Link{&w, 1}, Version::V5);
  Link l;
  EXPECT_NE(s.deliver(ob(msg("t", "1"), 1), l), Session::DeliverResult::Dropped);
  util::set_log_level(util::LogLevel::Warn);
  testing::internal::CaptureStderr();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(s.deliver(ob(msg("t", "x"), 1), l), Session::DeliverResult::Dropped);
  std::string text = testing::internal::GetCapturedStderr();
  util::set_log_level(util::LogLevel::Off);
  dropped = s.dropped_count();
  return text;
}

TEST(SessionDrops, CountedAndLoggedPerClientAtMostOncePerInterval) {
  const std::string line = "outgoing messages are being dropped for client 'slow-client'";
  uint64_t dropped = 0;
  std::string text = drop_log(std::chrono::hours(1), dropped);
  EXPECT_EQ(dropped, 5u);
  EXPECT_EQ(count_lines(text, line), 1u) << text;
  EXPECT_NE(text.find("1 dropped so far"), std::string::npos) << text;
  text = drop_log(util::Clock::duration::zero(), dropped);
  EXPECT_EQ(count_lines(text, line), 5u) << text;
  EXPECT_NE(text.find("5 dropped so far"), std::string::npos) << text;
}

}  // namespace
}  // namespace musqratt::broker
