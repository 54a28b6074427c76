// net::IoBatch on real socket pairs: every queued call completes within submit(), with the
// result the plain call would have given (bytes, end of stream, EAGAIN on an empty or full
// socket, EPIPE on a closed peer), in the slot it was queued in.
#include "net/io_batch.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace musqratt::net {
namespace {

struct Pair {
  int a = -1, b = -1;
  Pair() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    a = fds[0];
    b = fds[1];
  }
  ~Pair() {
    if (a >= 0) close(a);
    if (b >= 0) close(b);
  }
  std::string drain_b() {
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = read(b, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

/// Fills `fd`'s send side until it would block.
void fill(int fd) {
  std::string chunk(65536, 'x');
  while (send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {
  }
}

class IoBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = batch.open();
    if (!why.empty()) GTEST_SKIP() << "io_uring not available here: " << why;
  }
  IoBatch batch;
};

TEST_F(IoBatchTest, SendsOfOneTurnEachGetTheirOwnResult) {
  Pair ok, gathered, full, closed;
  fill(full.a);
  close(closed.b);
  closed.b = -1;
  std::string_view one[] = {"hello"};
  std::string big(100000, 'y');  // more than a socket pair takes at once: a short send
  std::string_view runs[] = {"he", "ad|", big};
  std::string_view small[] = {"z"};
  size_t s0 = batch.add_send(ok.a, one);
  size_t s1 = batch.add_send(gathered.a, runs);
  size_t s2 = batch.add_send(full.a, small);
  size_t s3 = batch.add_send(closed.a, small);
  EXPECT_EQ(batch.size(), 4u);
  batch.submit();
  EXPECT_EQ(batch.size(), 0u);
  EXPECT_EQ(batch.result(s0), 5);
  EXPECT_EQ(ok.drain_b(), "hello");
  ssize_t n = batch.result(s1);
  ASSERT_GT(n, 5);
  std::string got = gathered.drain_b();
  EXPECT_EQ(got.size(), static_cast<size_t>(n));
  EXPECT_EQ(got.substr(0, 5), "head|");
  EXPECT_EQ(batch.result(s2), -EAGAIN);  // a full socket answers at once, it is not waited on
  EXPECT_EQ(batch.result(s3), -EPIPE);
}

TEST_F(IoBatchTest, ReadsOfOneTurnEachGetTheirOwnResult) {
  Pair data, empty, ended;
  ASSERT_EQ(write(data.b, "abc", 3), 3);
  close(ended.b);
  ended.b = -1;
  std::vector<uint8_t> b0(16), b1(16), b2(16);
  size_t s0 = batch.add_recv(data.a, b0);
  size_t s1 = batch.add_recv(empty.a, b1);
  size_t s2 = batch.add_recv(ended.a, b2);
  batch.submit();
  ASSERT_EQ(batch.result(s0), 3);
  EXPECT_EQ(std::string(b0.begin(), b0.begin() + 3), "abc");
  EXPECT_EQ(batch.result(s1), -EAGAIN);  // nothing to read: not waited for
  EXPECT_EQ(batch.result(s2), 0);        // end of stream
}

TEST_F(IoBatchTest, ALoneCallIsMadeDirectlyWithTheSameResult) {
  Pair p, q;
  std::string_view one[] = {"solo"};
  size_t s = batch.add_send(p.a, one);
  batch.submit();
  EXPECT_EQ(batch.result(s), 4);
  EXPECT_EQ(p.drain_b(), "solo");
  std::vector<uint8_t> buf(8);
  s = batch.add_recv(q.a, buf);
  batch.submit();
  EXPECT_EQ(batch.result(s), -EAGAIN);
}

TEST_F(IoBatchTest, ABatchOfEveryCallTheRingHoldsThenAnother) {
  std::vector<Pair> pairs(IoBatch::kMaxCalls);
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < pairs.size(); ++i) {
      ASSERT_FALSE(batch.full());
      std::string_view msg[] = {"m"};
      EXPECT_EQ(batch.add_send(pairs[i].a, msg), i);
    }
    EXPECT_TRUE(batch.full());
    batch.submit();
    for (size_t i = 0; i < pairs.size(); ++i) {
      EXPECT_EQ(batch.result(i), 1) << "round " << round << " slot " << i;
      EXPECT_EQ(pairs[i].drain_b(), "m");
    }
  }
}

}  // namespace
}  // namespace musqratt::net
