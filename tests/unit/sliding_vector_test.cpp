// SlidingVector: front removal without moving the rest, compaction, and the vector operations
// a session's in-flight list uses, checked against a std::vector doing the same.
#include "util/sliding_vector.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <vector>

namespace musqratt::util {
namespace {

struct Item {
  int id = 0;
  std::shared_ptr<int> owned;  // a removed element must let go of what it held
};

std::vector<int> ids(const SlidingVector<Item>& v) {
  std::vector<int> out;
  for (const Item& i : v) out.push_back(i.id);
  return out;
}

TEST(SlidingVector, FrontRemovalReleasesTheElementAndKeepsOrder) {
  SlidingVector<Item> v;
  auto held = std::make_shared<int>(7);
  v.push_back({1, held});
  v.push_back({2, nullptr});
  v.push_back({3, nullptr});
  EXPECT_EQ(held.use_count(), 2);
  v.erase(v.begin());
  EXPECT_EQ(held.use_count(), 1);
  EXPECT_EQ(ids(v), (std::vector<int>{2, 3}));
  EXPECT_EQ(v.size(), 2u);
  v.erase(v.begin() + 1);  // not the front: an ordinary erase
  EXPECT_EQ(ids(v), (std::vector<int>{2}));
  v.erase(v.begin());
  EXPECT_TRUE(v.empty());
  v.push_back({4, nullptr});
  EXPECT_EQ(ids(v), (std::vector<int>{4}));
}

TEST(SlidingVector, AgreesWithAVectorUnderRandomUse) {
  SlidingVector<Item> v;
  std::vector<int> model;
  std::mt19937 rng(42);
  int next = 1;
  for (int step = 0; step < 20000; ++step) {
    unsigned op = rng() % 10;
    if (op < 5 || model.empty()) {
      v.push_back({next, nullptr});
      model.push_back(next++);
    } else if (op < 8) {
      v.erase(v.begin());
      model.erase(model.begin());
    } else if (op < 9) {
      size_t at = rng() % model.size();
      v.erase(v.begin() + static_cast<long>(at));
      model.erase(model.begin() + static_cast<long>(at));
    } else {
      int cut = model[rng() % model.size()];
      size_t a = v.erase_if([cut](const Item& i) { return i.id % 7 == cut % 7; });
      size_t b = std::erase_if(model, [cut](int i) { return i % 7 == cut % 7; });
      ASSERT_EQ(a, b);
    }
    ASSERT_EQ(v.size(), model.size());
    ASSERT_EQ(ids(v), model);
  }
  v = std::vector<Item>{{100, nullptr}};
  EXPECT_EQ(ids(v), (std::vector<int>{100}));
  v.clear();
  EXPECT_TRUE(v.empty());
}

}  // namespace
}  // namespace musqratt::util
