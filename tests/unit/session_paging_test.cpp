// Session queues beyond Persistence::memory_queue_limit: the tail stays on disk only and is
// paged back in order as the connection drains the queue; limits count what is on disk.
#include <gtest/gtest.h>

#include <map>

#include "broker/session.h"
#include "test_support.h"

namespace musqratt::broker {
namespace {

using protocol::Version;
using test::RecordingWaker;
using namespace std::chrono_literals;

const util::TimePoint T0 = util::TimePoint{} + 1000h;

/// Keeps queue rows in a map, as the SQLite store keeps them in its table. Page reads are
/// answered when the test says so (the real store answers on its own thread, later).
class MemoryStore : public Persistence {
 public:
  explicit MemoryStore(uint32_t limit) : limit_(limit) {}
  std::map<uint64_t, std::pair<Outbound, OutboundState>> rows;
  std::vector<std::function<void()>> pending_reads;
  int reads = 0;

  void answer_reads() {
    auto reads = std::move(pending_reads);
    pending_reads.clear();
    for (auto& r : reads) r();
  }

  uint32_t memory_queue_limit() const override { return limit_; }
  void load_queued(const std::string&, uint64_t from, uint32_t limit,
                   std::function<void(std::vector<RestoredOutbound>)> done) override {
    ++reads;
    std::vector<RestoredOutbound> page;
    for (auto it = rows.lower_bound(from); it != rows.end() && page.size() < limit; ++it) {
      if (it->second.second != OutboundState::Queued) continue;
      const Outbound& o = it->second.first;
      page.push_back(RestoredOutbound{o.seq, o.msg, o.qos, o.retain, o.subscription_ids, OutboundState::Queued, 0});
    }
    pending_reads.push_back([page, done] { done(page); });
  }
  void outbound_saved(const std::string&, uint64_t seq, const Outbound& out, OutboundState state, uint16_t) override {
    rows[seq] = {out, state};
  }
  void outbound_deleted(const std::string&, uint64_t seq) override { rows.erase(seq); }
  void session_saved(const std::string&, uint32_t, std::optional<int64_t>) override {}
  void session_deleted(const std::string&) override {}
  void subscription_saved(const std::string&, const std::string&, const protocol::SubscribeOptions&, uint32_t) override {}
  void subscription_deleted(const std::string&, const std::string&) override {}
  void incoming_qos2_saved(const std::string&, uint16_t) override {}
  void incoming_qos2_deleted(const std::string&, uint16_t) override {}
  void retained_saved(const MessagePtr&) override {}
  void retained_deleted(const std::string&) override {}
  void held_saved(uint64_t, const MessagePtr&) override {}
  void held_deleted(uint64_t) override {}
  void will_saved(const std::string&, const MessagePtr&, int64_t) override {}
  void will_deleted(const std::string&) override {}
  uint64_t last_issued() const override { return 0; }
  uint64_t committed() const override { return 0; }
  void notify_when_durable(uint64_t, Link) override {}

 private:
  uint32_t limit_;
};

Outbound numbered(int n, uint8_t qos = 1) {
  auto m = std::make_shared<Message>();
  m->topic = "t";
  m->payload = std::to_string(n);
  m->qos = qos;
  Outbound o;
  o.msg = std::move(m);
  o.qos = qos;
  return o;
}

class SessionPagingTest : public ::testing::Test {
 protected:
  SessionPagingTest() { session->set_persistence(&store); }

  void put(int n, uint8_t qos = 1) {
    Link wake;
    session->deliver(numbered(n, qos), wake);
  }
  /// Takes what is sendable and acknowledges it, as a connection would; returns the payloads.
  std::vector<int> drain_once() {
    std::vector<Sendable> out;
    session->take_sendable(kToken, out, 1000, 1000, T0);
    std::vector<int> got;
    for (const Sendable& s : out) {
      got.push_back(std::stoi(s.out.msg->payload));
      if (s.out.qos == 1) session->on_puback(s.packet_id);
    }
    Session::page_in_if_needed(session);
    return got;
  }

  static constexpr uint64_t kToken = 7;
  RecordingWaker waker;
  MemoryStore store{4};
  SessionPtr session = std::make_shared<Session>("c", 1, Version::V5, QueueLimits{});
};

TEST_F(SessionPagingTest, QueueBeyondTheLimitIsReadBackInOrder) {
  for (int i = 0; i < 11; ++i) put(i);  // offline: 4 in memory, 7 on disk only
  EXPECT_EQ(session->queued_count(), 11u);
  EXPECT_EQ(store.rows.size(), 11u);
  session->attach(Link{&waker, kToken}, Version::V5);
  std::vector<int> got;
  for (int round = 0; round < 10 && got.size() < 11; ++round) {
    for (int n : drain_once()) got.push_back(n);
    waker.tokens.clear();
    store.answer_reads();
    if (got.size() < 11) {
      EXPECT_TRUE(waker.woke(kToken)) << "a page that arrives wakes the connection";
    }
  }
  std::vector<int> want{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(got, want);
  EXPECT_EQ(session->queued_count(), 0u);
  EXPECT_TRUE(store.rows.empty()) << "every delivered message was acknowledged and deleted";
  EXPECT_GE(store.reads, 2);
}

TEST_F(SessionPagingTest, NewMessagesQueueBehindThoseOnDisk) {
  session->attach(Link{&waker, kToken}, Version::V5);
  for (int i = 0; i < 6; ++i) put(i);  // 4 in memory, 2 on disk
  std::vector<int> got = drain_once();  // takes 0..3 and asks for the disk part
  put(6);                               // must come after 4 and 5
  store.answer_reads();
  for (int round = 0; round < 5; ++round) {
    for (int n : drain_once()) got.push_back(n);
    store.answer_reads();
  }
  std::vector<int> want{0, 1, 2, 3, 4, 5, 6};
  EXPECT_EQ(got, want);
}

TEST_F(SessionPagingTest, MessageLimitCountsWhatIsOnDisk) {
  auto limited = std::make_shared<Session>("l", 2, Version::V5, QueueLimits{.max_messages = 6});
  limited->set_persistence(&store);
  Link wake;
  int queued = 0;
  for (int i = 0; i < 10; ++i)
    if (limited->deliver(numbered(i), wake) != Session::DeliverResult::Dropped) ++queued;
  EXPECT_EQ(queued, 6);
  EXPECT_EQ(limited->queued_count(), 6u);
}

TEST_F(SessionPagingTest, RestoredSessionStartsWithItsDiskPart) {
  for (int i = 0; i < 9; ++i) {
    Outbound o = numbered(i);
    o.seq = uint64_t(i) + 1;
    store.rows[o.seq] = {o, OutboundState::Queued};
  }
  RestoredSession r;
  r.client_id = "c";
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    const Outbound& o = store.rows[seq].first;
    r.outbound.push_back(RestoredOutbound{seq, o.msg, 1, false, {}, OutboundState::Queued, 0});
  }
  r.queued_on_disk = 5;
  r.disk_from_seq = 5;
  r.max_seq = 9;
  auto restored = std::make_shared<Session>("c", 3, Version::V5, QueueLimits{});
  restored->restore(r, T0);
  restored->set_persistence(&store);
  session = restored;
  EXPECT_EQ(session->queued_count(), 9u);
  session->attach(Link{&waker, kToken}, Version::V5);
  put(9);  // seq 10: after the restored ones
  std::vector<int> got;
  for (int round = 0; round < 6; ++round) {
    for (int n : drain_once()) got.push_back(n);
    store.answer_reads();
  }
  std::vector<int> want{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace musqratt::broker
