// net::tune_accepted_socket: a peer whose handshake round trip was under a millisecond gets the
// configured send buffer instead of the kernel's autotuning; zero leaves autotuning on; a
// distant (or unmeasured) peer is left alone. Also on real loopback sockets, where the round
// trip is microseconds.
#include "net/accepted_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace musqratt::net {
namespace {

TEST(AcceptedSocket, NearbyMeansMeasuredAndUnderAMillisecond) {
  EXPECT_FALSE(is_nearby_peer(0));  // nothing measured: unknown, not nearby
  EXPECT_TRUE(is_nearby_peer(1));
  EXPECT_TRUE(is_nearby_peer(24));  // loopback
  EXPECT_TRUE(is_nearby_peer(kNearbyRttUs - 1));
  EXPECT_FALSE(is_nearby_peer(kNearbyRttUs));
  EXPECT_FALSE(is_nearby_peer(30000));  // another continent
}

// A connected loopback pair: the accepted end and the client end.
struct LoopbackPair {
  int listener = -1, client = -1, accepted = -1;
  LoopbackPair() {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener, 1) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    accepted = accept(listener, nullptr, nullptr);
  }
  ~LoopbackPair() {
    for (int fd : {listener, client, accepted})
      if (fd >= 0) close(fd);
  }
};

int send_buffer(int fd) {
  int v = 0;
  socklen_t len = sizeof v;
  getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len);
  return v;
}

TEST(AcceptedSocket, LoopbackPeerGetsTheConfiguredSendBuffer) {
  LoopbackPair p;
  ASSERT_GE(p.accepted, 0);
  uint32_t rtt = measured_rtt_us(p.accepted);
  EXPECT_TRUE(is_nearby_peer(rtt)) << "loopback handshake round trip " << rtt << " us";
  EXPECT_TRUE(tune_accepted_socket(p.accepted, AcceptedSocketOptions{64 * 1024}));
  EXPECT_EQ(send_buffer(p.accepted), 2 * 64 * 1024);  // the kernel doubles what it is given
}

TEST(AcceptedSocket, ZeroLeavesAutotuning) {
  LoopbackPair p;
  ASSERT_GE(p.accepted, 0);
  int before = send_buffer(p.accepted);
  EXPECT_FALSE(tune_accepted_socket(p.accepted, AcceptedSocketOptions{0}));
  EXPECT_EQ(send_buffer(p.accepted), before);
}

TEST(AcceptedSocket, NotASocketIsLeftAlone) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_EQ(measured_rtt_us(fds[0]), 0u);
  EXPECT_FALSE(tune_accepted_socket(fds[0], AcceptedSocketOptions{}));
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace musqratt::net
