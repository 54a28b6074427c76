// SqliteStore: everything the broker stores comes back after close and reopen, pages of a
// queue come back in order, and a file of another format is refused, not misread.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>

#include "store_fixture.h"

namespace musqratt::store::test {
namespace {

using broker::OutboundState;
using broker::RestoredState;

const broker::RestoredSession* find_session(const RestoredState& r, const std::string& id) {
  for (const auto& s : r.sessions)
    if (s.client_id == id) return &s;
  return nullptr;
}

std::vector<uint64_t> seqs(const std::vector<broker::RestoredOutbound>& v) {
  std::vector<uint64_t> out;
  for (const auto& o : v) out.push_back(o.seq);
  return out;
}

TEST(Store, EverythingRoundTripsThroughCloseAndReopen) {
  TempDir dir;
  auto props = std::make_shared<protocol::Properties>();
  props->content_type = "text/plain";
  props->user_properties = {{"k", "v"}, {"k", "w"}};
  props->correlation_data = std::string("\0\1\2", 3);
  auto rich = std::make_shared<broker::Message>();
  rich->topic = "a/rich";
  rich->payload = std::string("bin\0ary", 7);
  rich->qos = 2;
  rich->retain = true;
  rich->properties = props;
  rich->expires_at = util::now() + 3600s;
  rich->id = message("x", "")->id;  // a fresh id, as the broker would give
  auto plain = message("a/plain", "p");
  auto retained = message("cfg/x", "retained", 0);
  auto held1 = message("jobs/1", "h1");
  auto held2 = message("jobs/1", "h2");
  auto will = message("wills/dev", "gone");
  int64_t disconnected = 1'700'000'000'000;
  int64_t fire = 1'800'000'000'000;
  {
    SqliteStore s(options(dir));
    RestoredState empty = s.open();
    EXPECT_TRUE(empty.sessions.empty());
    s.session_saved("dev", 3600, disconnected);
    s.session_saved("online", 60, std::nullopt);
    protocol::SubscribeOptions o1{2, true, true, 2};
    protocol::SubscribeOptions o2{1, false, false, 1};
    s.subscription_saved("dev", "a/#", o1, 7);
    s.subscription_saved("dev", "b/+/c", o2, 0);
    auto q1 = outbound(rich, 1, 2);
    q1.subscription_ids = {7, 9};
    s.outbound_saved("dev", 1, q1, OutboundState::AwaitPubrec, 11);
    s.outbound_saved("dev", 2, outbound(plain, 2), OutboundState::AwaitPuback, 12);
    s.outbound_saved("dev", 3, outbound(plain, 3), OutboundState::AwaitPubcomp, 13);
    s.outbound_saved("dev", 4, outbound(plain, 4), OutboundState::Queued, 0);
    s.incoming_qos2_saved("dev", 300);
    s.incoming_qos2_saved("dev", 301);
    s.retained_saved(retained);
    s.held_saved(5, held2);  // held rows come back in seq order, not issue order
    s.held_saved(4, held1);
    s.will_saved("dev", will, fire);
    ASSERT_TRUE(wait_durable(s));
    s.close();
  }
  SqliteStore s(options(dir));
  RestoredState r = s.open();
  EXPECT_GE(r.max_message_id, std::max({rich->id, plain->id, will->id}));
  ASSERT_EQ(r.sessions.size(), 2u);
  const auto* dev = find_session(r, "dev");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->expiry, 3600u);
  EXPECT_EQ(dev->disconnected_wall_ms, disconnected);
  const auto* online = find_session(r, "online");
  ASSERT_NE(online, nullptr);
  EXPECT_TRUE(online->disconnected_wall_ms.has_value());  // online at the stop: disconnected then

  auto subs = dev->subscriptions;
  std::sort(subs.begin(), subs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  ASSERT_EQ(subs.size(), 2u);
  EXPECT_EQ(subs[0].first, "a/#");
  EXPECT_EQ(subs[0].second.first, (protocol::SubscribeOptions{2, true, true, 2}));
  EXPECT_EQ(subs[0].second.second, 7u);
  EXPECT_EQ(subs[1].first, "b/+/c");
  EXPECT_EQ(subs[1].second.first, (protocol::SubscribeOptions{1, false, false, 1}));

  ASSERT_EQ(seqs(dev->outbound), (std::vector<uint64_t>{1, 2, 3, 4}));
  const auto& o1 = dev->outbound[0];
  EXPECT_EQ(o1.state, OutboundState::AwaitPubrec);
  EXPECT_EQ(o1.packet_id, 11);
  EXPECT_EQ(o1.qos, 2);
  EXPECT_EQ(o1.subscription_ids, (std::vector<uint32_t>{7, 9}));
  ASSERT_TRUE(o1.msg);
  EXPECT_EQ(o1.msg->id, rich->id);
  EXPECT_EQ(o1.msg->topic, "a/rich");
  EXPECT_EQ(o1.msg->payload, rich->payload);
  EXPECT_TRUE(o1.msg->retain);
  ASSERT_TRUE(o1.msg->properties);
  EXPECT_EQ(*o1.msg->properties, *props);
  ASSERT_TRUE(o1.msg->expires_at);
  EXPECT_NEAR(std::chrono::duration<double>(*o1.msg->expires_at - *rich->expires_at).count(), 0, 2.0);
  EXPECT_EQ(dev->outbound[1].state, OutboundState::AwaitPuback);
  EXPECT_EQ(dev->outbound[1].packet_id, 12);
  EXPECT_EQ(dev->outbound[2].state, OutboundState::AwaitPubcomp);
  EXPECT_EQ(dev->outbound[3].state, OutboundState::Queued);
  EXPECT_EQ(dev->outbound[3].msg->payload, "p");
  EXPECT_EQ(dev->max_seq, 4u);
  EXPECT_EQ(dev->queued_on_disk, 0u);
  auto q2 = dev->incoming_qos2;
  std::sort(q2.begin(), q2.end());
  EXPECT_EQ(q2, (std::vector<uint16_t>{300, 301}));

  ASSERT_EQ(r.retained.size(), 1u);
  EXPECT_EQ(r.retained[0]->topic, "cfg/x");
  EXPECT_EQ(r.retained[0]->payload, "retained");
  ASSERT_EQ(r.held.size(), 2u);
  EXPECT_EQ(r.held[0].first, 4u);
  EXPECT_EQ(r.held[0].second->payload, "h1");
  EXPECT_EQ(r.held[1].first, 5u);
  ASSERT_EQ(r.wills.size(), 1u);
  EXPECT_EQ(r.wills[0].first, "dev");
  EXPECT_EQ(r.wills[0].second.first->payload, "gone");
  EXPECT_EQ(r.wills[0].second.second, fire);
}

TEST(Store, DeletesRoundTripToo) {
  TempDir dir;
  auto m = message("t", "x");
  {
    SqliteStore s(options(dir));
    s.open();
    s.session_saved("keep", 60, 1);
    s.session_saved("gone", 60, 1);
    for (const char* c : {"keep", "gone"}) {
      s.subscription_saved(c, "t/#", {}, 0);
      s.subscription_saved(c, "u", {}, 0);
      s.outbound_saved(c, 1, outbound(m, 1), OutboundState::Queued, 0);
      s.outbound_saved(c, 2, outbound(m, 2), OutboundState::Queued, 0);
      s.incoming_qos2_saved(c, 1);
      s.incoming_qos2_saved(c, 2);
      s.will_saved(c, m, 5);
    }
    s.retained_saved(m);
    s.held_saved(1, m);
    s.held_saved(2, m);
    s.subscription_deleted("keep", "u");
    s.outbound_deleted("keep", 1);
    s.incoming_qos2_deleted("keep", 1);
    s.will_deleted("keep");
    s.retained_deleted("t");
    s.held_deleted(1);
    s.session_deleted("gone");  // every row of the client, except its will (deleted on its own)
    ASSERT_TRUE(wait_durable(s));
  }
  SqliteStore s(options(dir));
  RestoredState r = s.open();
  ASSERT_EQ(r.sessions.size(), 1u);
  const auto& keep = r.sessions[0];
  EXPECT_EQ(keep.client_id, "keep");
  ASSERT_EQ(keep.subscriptions.size(), 1u);
  EXPECT_EQ(keep.subscriptions[0].first, "t/#");
  EXPECT_EQ(seqs(keep.outbound), (std::vector<uint64_t>{2}));
  EXPECT_EQ(keep.incoming_qos2, (std::vector<uint16_t>{2}));
  EXPECT_TRUE(r.retained.empty());
  ASSERT_EQ(r.held.size(), 1u);
  EXPECT_EQ(r.held[0].first, 2u);
  ASSERT_EQ(r.wills.size(), 1u);
  EXPECT_EQ(r.wills[0].first, "gone");
}

TEST(Store, QueueBeyondTheMemoryLimitStaysOnDiskAndPagesInOrder) {
  TempDir dir;
  {
    SqliteStore s(options(dir, 10));
    s.open();
    s.session_saved("pager", 60, 1);
    // In flight first (read whole at start-up), then 40 queued; seqs interleave with other
    // clients' rows, which must not leak into the page.
    s.outbound_saved("pager", 1, outbound(message("t", "f1"), 1), OutboundState::AwaitPuback, 1);
    for (uint64_t seq = 2; seq <= 41; ++seq) {
      s.outbound_saved("pager", seq, outbound(message("t", std::to_string(seq)), seq), OutboundState::Queued, 0);
      s.outbound_saved("other", seq, outbound(message("t", "other"), seq), OutboundState::Queued, 0);
    }
    ASSERT_TRUE(wait_durable(s));
  }
  SqliteStore s(options(dir, 10));
  RestoredState r = s.open();
  const auto* p = find_session(r, "pager");
  ASSERT_NE(p, nullptr);
  std::vector<uint64_t> in_memory = seqs(p->outbound);
  EXPECT_EQ(in_memory, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(p->queued_on_disk, 30u);
  EXPECT_EQ(p->disk_from_seq, 12u);
  EXPECT_EQ(p->queued_on_disk_bytes, 30u * 2);  // "12".."41"
  EXPECT_EQ(p->max_seq, 41u);

  // A page read is ordered after what was issued before it: the new row is in it.
  s.outbound_saved("pager", 42, outbound(message("t", "42"), 42), OutboundState::Queued, 0);
  std::vector<uint64_t> got;
  Signal sig;
  auto read_page = [&](uint64_t from, uint32_t limit) {
    std::promise<std::vector<broker::RestoredOutbound>> page;
    auto f = page.get_future();
    s.load_queued("pager", from, limit, [&](std::vector<broker::RestoredOutbound> rows) { page.set_value(std::move(rows)); });
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready);
    return f.get();
  };
  std::vector<broker::RestoredOutbound> page = read_page(12, 10);
  EXPECT_EQ(seqs(page), (std::vector<uint64_t>{12, 13, 14, 15, 16, 17, 18, 19, 20, 21}));
  EXPECT_EQ(page[0].msg->payload, "12");
  EXPECT_EQ(page[0].state, OutboundState::Queued);
  page = read_page(22, 100);
  ASSERT_EQ(page.size(), 21u);
  EXPECT_EQ(page.front().seq, 22u);
  EXPECT_EQ(page.back().seq, 42u);
  EXPECT_TRUE(std::is_sorted(page.begin(), page.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; }));
}

TEST(Store, UnknownFormatIsRefusedWithAClearMessage) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    s.open();
    s.session_saved("dev", 60, 1);
    ASSERT_TRUE(wait_durable(s));
  }
  sql(dir.db(), "UPDATE meta SET value = '99' WHERE key = 'format'");
  SqliteStore s(options(dir));
  try {
    s.open();
    FAIL() << "a format-99 store was opened";
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("format 99"), std::string::npos) << what;
    EXPECT_NE(what.find("reads format 1"), std::string::npos) << what;
    EXPECT_NE(what.find(dir.db()), std::string::npos) << what;
  }
  // Refusing leaves the file as it was.
  sql(dir.db(), "UPDATE meta SET value = '1' WHERE key = 'format'");
  SqliteStore again(options(dir));
  EXPECT_EQ(again.open().sessions.size(), 1u);
}

TEST(Store, ADatabaseWithoutAFormatMarkIsNotOurs) {
  TempDir dir;
  sql(dir.db(), "CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES('mine')");
  SqliteStore s(options(dir));
  try {
    s.open();
    FAIL() << "a foreign database was opened";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a MusQraTT store"), std::string::npos) << e.what();
  }
}

TEST(Store, ANewStoreIsMarkedWithItsFormat) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    s.open();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir.db().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'format'", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "1");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

int64_t count_rows(const std::string& db_path, const char* table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::string sql = std::string("SELECT count(*) FROM ") + table;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(st), SQLITE_ROW);
  int64_t n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

TEST(Store, MessagesGoWithTheirLastReference) {
  TempDir dir;
  auto shared = message("r/t", "queued and retained");
  auto queued = message("q/t", "queued only");
  auto old_retained = message("r/t", "replaced");
  auto will = message("w/t", "will");
  {
    SqliteStore s(options(dir));
    s.open();
    s.session_saved("a", 60, 1);
    s.session_saved("b", 60, 1);
    s.retained_saved(old_retained);
    s.retained_saved(shared);  // replaces: old_retained has no reference left
    s.outbound_saved("a", 1, outbound(shared, 1), OutboundState::Queued, 0);
    s.outbound_saved("a", 2, outbound(queued, 2), OutboundState::Queued, 0);
    s.outbound_saved("b", 1, outbound(queued, 1), OutboundState::Queued, 0);
    s.will_saved("a", will, 1);
    ASSERT_TRUE(wait_durable(s));
    s.outbound_deleted("a", 1);  // shared: still retained
    s.outbound_deleted("a", 2);  // queued: still in b's queue
    s.will_deleted("a");         // will: gone
  }
  EXPECT_EQ(count_rows(dir.db(), "messages"), 2);
  {
    SqliteStore s(options(dir));
    auto r = s.open();
    ASSERT_EQ(r.retained.size(), 1u);
    EXPECT_EQ(r.retained[0]->payload, "queued and retained");
    s.session_deleted("b");
    s.retained_deleted("r/t");
  }
  EXPECT_EQ(count_rows(dir.db(), "messages"), 0);
}

TEST(Store, MessagesNothingRefersToAreSweptUp) {
  TempDir dir;
  {
    SqliteStore s(options(dir));
    s.open();
    s.retained_saved(message("keep", "k"));
  }
  // As if a crash had come between a delete and the collection of its message.
  sql(dir.db(), "INSERT INTO messages(id, topic, payload, qos, retain) VALUES(1000001, 'x', 'orphan', 1, 0), "
                "(1000002, 'y', 'orphan', 1, 0)");
  {
    SqliteStore s(options(dir));
    s.open();
  }
  EXPECT_EQ(count_rows(dir.db(), "messages"), 1);
}

TEST(Store, TheWriteAheadLogIsCheckpointedWhileTheStoreGrows) {
  TempDir dir;
  SqliteStore s(options(dir));
  s.open();
  s.session_saved("big", 60, 1);
  std::string payload(1024, 'x');
  for (uint64_t seq = 1; seq <= 20000; ++seq)
    s.outbound_saved("big", seq, outbound(message("t", payload), seq), OutboundState::Queued, 0);
  ASSERT_TRUE(wait_durable(s, 60s));
  // 20 MB stored; the log stays near its checkpoint size instead of holding all of it.
  auto wal = std::filesystem::file_size(dir.db() + "-wal");
  auto db = std::filesystem::file_size(dir.db());
  EXPECT_LT(wal, 12u << 20) << "wal " << wal << " db " << db;
  EXPECT_GT(db, 20u << 20);
}

}  // namespace
}  // namespace musqratt::store::test
