// SqliteStore when it cannot write for lack of space (here: its own size limit, which fails
// the same way a full disk does, SQLITE_FULL): nothing committed is lost, nothing that failed
// counts as durable, deletes and independent reads go on, and writing resumes by itself.
#include <gtest/gtest.h>

#include <future>

#include "store_fixture.h"

namespace musqratt::store::test {
namespace {

using broker::OutboundState;

constexpr uint64_t kCap = 512 << 10;
const std::string kPayload(1024, 'x');

std::vector<uint64_t> queued_seqs(const broker::RestoredState& r, const std::string& client) {
  std::vector<uint64_t> out;
  for (const auto& s : r.sessions)
    if (s.client_id == client)
      for (const auto& o : s.outbound) out.push_back(o.seq);
  return out;
}

/// Issues session "c" (operation 1) and `n` queued 1 KiB messages for it (operation k+1 is
/// seq k) until the store says it is full.
void fill(SqliteStore& s, uint64_t n) {
  s.session_saved("c", 3600, 1);
  // In groups, each waited for, so that they are separate transactions of which some fit.
  for (uint64_t seq = 1; seq <= n; ++seq) {
    s.outbound_saved("c", seq, outbound(message("t", kPayload), seq), OutboundState::Queued, 0);
    if (seq % 10 == 0) {
      ASSERT_TRUE(eventually([&] { return s.committed() == s.last_issued() || !s.accepting_writes(); }));
    }
  }
  ASSERT_TRUE(eventually([&] { return !s.accepting_writes(); })) << "the store never filled up";
  // Everything issued has reached the writer: committed + waiting covers it.
  ASSERT_TRUE(eventually([&] { return s.committed() + s.status().writes_waiting >= s.last_issued(); }));
}

TEST(StoreDiskFull, NothingCommittedIsLostAndNothingFailedCountsAsDurable) {
  TempDir dir;
  uint64_t durable = 0;
  {
    SqliteStore s(options(dir, 0, kCap));
    s.open();
    fill(s, 1000);
    durable = s.committed();
    EXPECT_LT(durable, s.last_issued());
    broker::StoreStatus st = s.status();
    EXPECT_TRUE(st.disk_full);
    EXPECT_GT(st.writes_refused, 0u);
    EXPECT_EQ(st.writes_waiting, s.last_issued() - durable);
    // Retrying every second does not move the durable mark past what failed.
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(s.committed(), durable);
    EXPECT_FALSE(s.accepting_writes());
    // An acknowledgement waiting for a failed write is not released.
    Signal sig;
    s.notify_when_durable(s.last_issued(), broker::Link{&sig, 1});
    EXPECT_FALSE(sig.wait(300ms));
    s.close();  // the waiting writes are lost; none of them was acknowledged
  }
  SqliteStore s(options(dir, 0, kCap));
  std::vector<uint64_t> got = queued_seqs(s.open(), "c");
  ASSERT_GE(got.size(), durable - 1) << "a committed message was lost";
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], i + 1) << "not a prefix of what was issued";
}

TEST(StoreDiskFull, DeletesAndIndependentReadsGoOnAndWritingResumesByItself) {
  TempDir dir;
  SqliteStore s(options(dir, 0, kCap));
  s.open();
  s.session_saved("other", 3600, 1);
  for (uint64_t seq = 1; seq <= 5; ++seq)
    s.outbound_saved("other", seq, outbound(message("o", "other"), seq), OutboundState::Queued, 0);
  ASSERT_TRUE(wait_durable(s));
  uint64_t before = s.last_issued();
  fill(s, 420);
  uint64_t durable_seq = s.committed() - before - 1;  // seqs of "c" that are on disk
  ASSERT_GT(durable_seq, 100u);
  ASSERT_LT(durable_seq, 420u);

  auto load = [&](const char* client, uint64_t from) {
    auto page = std::make_shared<std::promise<std::vector<broker::RestoredOutbound>>>();
    auto f = page->get_future();
    s.load_queued(client, from, 1000, [page](std::vector<broker::RestoredOutbound> rows) { page->set_value(std::move(rows)); });
    return f;
  };
  // Queues are read while full: a page holds what is stored and, laid over it, what waits to
  // be written, exactly as it will be on disk.
  auto other = load("other", 1);
  ASSERT_EQ(other.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(other.get().size(), 5u);
  auto across = load("c", durable_seq - 9);  // 10 stored rows, then rows that wait
  ASSERT_EQ(across.wait_for(5s), std::future_status::ready);
  std::vector<broker::RestoredOutbound> page = across.get();
  ASSERT_EQ(page.size(), 430 - durable_seq);
  for (size_t i = 0; i < page.size(); ++i) ASSERT_EQ(page[i].seq, durable_seq - 9 + i);
  EXPECT_EQ(page.back().msg->payload, kPayload);
  EXPECT_FALSE(s.accepting_writes());

  // Delivering what is stored deletes it: that frees the room for what waits.
  for (uint64_t seq = 1; seq <= durable_seq; ++seq) s.outbound_deleted("c", seq);
  ASSERT_TRUE(eventually([&] { return s.accepting_writes(); }, 15s)) << "writing did not resume";
  ASSERT_TRUE(eventually([&] { return s.committed() == s.last_issued(); }));
  EXPECT_EQ(s.status().writes_waiting, 0u);
  s.close();

  SqliteStore again(options(dir, 0, kCap));
  std::vector<uint64_t> got = queued_seqs(again.open(), "c");
  ASSERT_EQ(got.size(), 420 - durable_seq);
  EXPECT_EQ(got.front(), durable_seq + 1);
  EXPECT_EQ(got.back(), 420u);
}

}  // namespace
}  // namespace musqratt::store::test
