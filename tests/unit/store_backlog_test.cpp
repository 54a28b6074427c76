// Backlog: which waiting operations replace which, what they hold back, and which may go
// ahead of blocked writes while the disk is full.
#include <gtest/gtest.h>

#include "store/backlog.h"

namespace musqratt::store {
namespace {

uint64_t counter = 0;

Op make(OpBody body) {
  Op op;
  op.body = std::move(body);
  op.number = ++counter;
  return op;
}

broker::MessagePtr msg() {
  auto m = std::make_shared<broker::Message>();
  m->topic = "t";
  m->payload = std::string(100, 'x');
  static broker::MessageIds ids;  // the broker gives ids; each test message a fresh one
  m->id = ids.next();
  return m;
}

Op save(const char* client, uint64_t seq) { return make(op::OutboundSave{.client = client, .seq = seq, .msg = msg()}); }
Op del(const char* client, uint64_t seq) { return make(op::OutboundDelete{client, seq}); }
Op read(const char* client) { return make(op::LoadQueued{client, 0, 10, nullptr}); }

std::vector<uint64_t> numbers(Backlog& b) {
  std::vector<uint64_t> out;
  for (const Op& op : b.ops()) out.push_back(op.number);
  return out;
}

std::vector<uint64_t> hoisted(Backlog& b) {
  std::vector<uint64_t> out;
  for (auto it : b.hoistable()) out.push_back(it->number);
  return out;
}

class BacklogTest : public ::testing::Test {
 protected:
  void SetUp() override { counter = 0; }
  Backlog b;
};

TEST_F(BacklogTest, ALaterOperationOnTheSameRowReplacesTheEarlierAndInheritsWhatItHeld) {
  b.append(save("c", 1));  // 1
  b.append(save("c", 2));  // 2
  b.append(save("c", 1));  // 3: the state update of row 1 (say, sent and awaiting PUBACK)
  EXPECT_EQ(numbers(b), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(b.lowest_hold(), 1u) << "operation 1 is not durable until 3 is";
  b.append(del("c", 1));  // 4: delivered and acknowledged
  EXPECT_EQ(numbers(b), (std::vector<uint64_t>{2, 4}));
  EXPECT_EQ(b.lowest_hold(), 1u);
  b.append(del("c", 2));
  EXPECT_EQ(numbers(b), (std::vector<uint64_t>{4, 5}));
  EXPECT_EQ(b.write_bytes(), 0u);
}

TEST_F(BacklogTest, DifferentRowsAndTablesDoNotReplaceEachOther) {
  b.append(save("c", 1));
  b.append(save("d", 1));
  b.append(make(op::Qos2Save{"c", 1}));
  b.append(make(op::SubscriptionSave{"c", "a", 0, 0}));
  b.append(make(op::SubscriptionSave{"c", "b", 0, 0}));
  b.append(make(op::HeldSave{1, msg()}));
  b.append(make(op::WillSave{"c", msg(), 0}));
  EXPECT_EQ(b.size(), 7u);
  EXPECT_GT(b.write_bytes(), 300u);
  b.append(make(op::SubscriptionDelete{"c", "a"}));
  b.append(make(op::RetainedDelete{"t"}));
  EXPECT_EQ(b.size(), 8u);  // the subscription to "a" replaced; nothing retained was waiting
}

TEST_F(BacklogTest, SessionDeleteReplacesEverythingOfItsClientButTheWill) {
  b.append(make(op::SessionSave{"c", 60, 1}));
  b.append(save("c", 1));
  b.append(make(op::Qos2Save{"c", 5}));
  b.append(make(op::WillSave{"c", msg(), 0}));
  b.append(save("other", 1));
  b.append(make(op::SessionDelete{"c"}));
  EXPECT_EQ(numbers(b), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(b.lowest_hold(), 1u);
}

TEST_F(BacklogTest, ReadsDoNotStopReplacing) {
  // A message sent (state saved), a page read meanwhile, then its acknowledgement: the delete
  // replaces the state update, so it can go ahead and free the row.
  b.append(save("c", 1));   // 1
  b.append(read("c"));      // 2
  b.append(del("c", 1));    // 3 replaces 1
  EXPECT_EQ(numbers(b), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(hoisted(b), (std::vector<uint64_t>{2, 3}));
}

TEST_F(BacklogTest, DeletesAndReadsGoAheadOfWritesTheyDoNotDependOn) {
  b.append(save("c", 10));                    // 1 blocked write
  b.append(del("c", 3));                      // 2 another row: may go
  b.append(read("c"));                        // 3 may go, with 1 laid over what it reads
  b.append(read("d"));                        // 4 d's queue has none: may go
  b.append(del("c", 4));                      // 5 may pass the waiting read (a delivered row)
  b.append(make(op::RetainedDelete{"x"}));    // 6 may go
  b.append(make(op::HeldDelete{9}));          // 7 may go
  b.append(make(op::SessionDelete{"d"}));     // 8 may go: d's read goes before it
  EXPECT_EQ(hoisted(b), (std::vector<uint64_t>{2, 3, 4, 5, 6, 7, 8}));
  auto it = std::next(b.ops().begin(), 2);
  ASSERT_EQ(it->overlay.size(), 1u) << "c's read is given the waiting write to its queue";
  EXPECT_EQ(it->overlay[0]->number, 1u);
  EXPECT_TRUE(std::next(it)->overlay.empty()) << "nothing of d's queue waits";
  b.append(save("c", 11));                    // 9 another waiting write
  b.append(make(op::SessionDelete{"c"}));     // 10 replaces 1, 2, 5 and 9: nothing of c waits
  EXPECT_EQ(numbers(b), (std::vector<uint64_t>{3, 4, 6, 7, 8, 10}));
  EXPECT_EQ(hoisted(b), (std::vector<uint64_t>{3, 4, 6, 7, 8, 10}));
  EXPECT_EQ(b.lowest_hold(), 1u);
}

TEST_F(BacklogTest, ASessionDeleteThatReplacedEverythingOfItsClientGoesAhead) {
  b.append(make(op::RetainedSave{msg()}));  // 1: topic "t"
  b.append(make(op::SessionSave{"c", 60, 1}));
  b.append(make(op::SubscriptionSave{"c", "a", 0, 0}));
  b.append(make(op::SessionDelete{"c"}));  // replaces 2 and 3: nothing of c is left waiting
  EXPECT_EQ(numbers(b), (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(hoisted(b), (std::vector<uint64_t>{4}));
  b.append(make(op::SessionSave{"c", 60, 1}));  // 5: after the delete
  b.append(make(op::Qos2Delete{"c", 1}));       // 6: another row, may go
  EXPECT_EQ(hoisted(b), (std::vector<uint64_t>{4, 6}));
}

TEST_F(BacklogTest, ASessionDeleteNeverWaitsForRowsOfItsClient) {
  b.append(save("c", 1));                  // 1
  b.append(read("c"));                     // 2
  b.append(make(op::SessionDelete{"c"}));  // 3 replaces 1
  b.append(make(op::Qos2Save{"c", 1}));    // 4 a new session's row: a write, waits
  EXPECT_EQ(numbers(b), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(hoisted(b), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(b.lowest_hold(), 1u);
}

TEST_F(BacklogTest, ReadsThatRanAreSkippedAndErasingKeepsTheIndex) {
  b.append(save("c", 1));
  b.append(read("d"));
  auto its = b.hoistable();
  ASSERT_EQ(its.size(), 1u);
  its[0]->done = true;
  b.erase(its[0]);
  EXPECT_EQ(numbers(b), (std::vector<uint64_t>{1}));
  b.append(save("c", 1));  // still finds row 1 after the erase
  EXPECT_EQ(numbers(b), (std::vector<uint64_t>{3}));
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.lowest_hold(), std::numeric_limits<uint64_t>::max());
}

}  // namespace
}  // namespace musqratt::store
