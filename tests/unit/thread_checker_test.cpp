// util::ThreadChecker / ThreadOwned: free in release builds; in debug builds, a touch from a
// thread that does not own the value is an assertion failure.
#include "util/thread_checker.h"

#include <gtest/gtest.h>

#include <thread>

namespace musqratt::util {
namespace {

TEST(ThreadChecker, OwnerIsTheFirstThreadToCheckAndCanBeHandedOn) {
  ThreadChecker c;
  EXPECT_TRUE(c.called_on_owner());
  EXPECT_TRUE(c.called_on_owner());
  bool other = true;
  std::thread([&] { other = c.called_on_owner(); }).join();
#ifdef NDEBUG
  EXPECT_TRUE(other);  // no checks in release builds
#else
  EXPECT_FALSE(other);
#endif
  std::thread([&] {
    c.bind_to_current_thread();
    other = c.called_on_owner();
  }).join();
  EXPECT_TRUE(other);
  c.unbind();
  EXPECT_TRUE(c.called_on_owner());  // rebinds to whoever checks next
}

#ifdef NDEBUG
TEST(ThreadOwned, CostsNothingInReleaseBuilds) {
  EXPECT_EQ(sizeof(ThreadOwned<int>), sizeof(int));
  EXPECT_TRUE(std::is_empty_v<ThreadChecker>);
}
#else
TEST(ThreadOwnedDeathTest, TouchFromAnotherThreadAsserts) {
  ThreadOwned<int> v(1);
  *v.operator->() = 2;  // binds to this thread
  EXPECT_DEATH(std::thread([&] { (void)v.get(); }).join(), "does not own");
}
#endif

}  // namespace
}  // namespace musqratt::util
