#include "net/io_batch.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#ifdef MUSQRATT_HAVE_URING
#include <liburing.h>
#endif

namespace musqratt::net {

namespace {
// MSG_DONTWAIT makes the kernel answer EAGAIN on an empty or full socket instead of parking the
// call until it can go on: every call completes within submit(), as the plain call would.
constexpr int kSendFlags = MSG_NOSIGNAL | MSG_DONTWAIT;
constexpr int kRecvFlags = MSG_DONTWAIT;
}  // namespace

size_t IoBatch::add_send(int fd, std::span<const std::string_view> runs) {
  size_t slot = count_;
  Slot& s = (*slots_)[slot];
  size_t count = std::min(runs.size(), kMaxRuns);
  for (size_t i = 0; i < count; ++i) s.iov[i] = {const_cast<char*>(runs[i].data()), runs[i].size()};
  s.msg = msghdr{};
  s.msg.msg_iov = s.iov.data();
  s.msg.msg_iovlen = count;
  return add(fd, false);
}

size_t IoBatch::add_recv(int fd, std::span<uint8_t> into) {
  Slot& s = (*slots_)[count_];
  s.iov[0] = {into.data(), into.size()};
  s.msg = msghdr{};
  s.msg.msg_iov = s.iov.data();
  s.msg.msg_iovlen = 1;
  return add(fd, true);
}

ssize_t IoBatch::call_alone(Slot& s) {
  ssize_t n;
  do n = s.recv ? recv(s.fd, s.iov[0].iov_base, s.iov[0].iov_len, kRecvFlags) : sendmsg(s.fd, &s.msg, kSendFlags);
  while (n < 0 && errno == EINTR);
  return n >= 0 ? n : -errno;
}

#ifdef MUSQRATT_HAVE_URING

struct IoBatch::Ring {
  io_uring ring{};
  bool ready = false;
};

IoBatch::IoBatch() : ring_(std::make_unique<Ring>()) {}

IoBatch::~IoBatch() {
  if (ring_->ready) io_uring_queue_exit(&ring_->ring);
}

bool IoBatch::is_open() const { return ring_->ready; }

std::string IoBatch::open() {
  if (ring_->ready) return {};
  // Best first; older kernels refuse the newer flags with EINVAL. The ring is this thread's
  // alone (SINGLE_ISSUER, DEFER_TASKRUN: no completion work runs anywhere else), and SUBMIT_ALL
  // keeps submitting past a call refused at preparation, so every queued call gets a result.
  const unsigned variants[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
      IORING_SETUP_SUBMIT_ALL,
      0,
  };
  int r = -EINVAL;
  for (unsigned flags : variants) {
    io_uring_params p{};
    p.flags = flags;
    r = io_uring_queue_init_params(kMaxCalls, &ring_->ring, &p);
    if (r != -EINVAL) break;
  }
  if (r < 0) return std::string("io_uring_queue_init: ") + strerror(-r);
  ring_->ready = true;
  slots_ = std::make_unique<std::array<Slot, kMaxCalls>>();
  return {};
}

size_t IoBatch::add(int fd, bool recv) {
  size_t slot = count_++;
  Slot& s = (*slots_)[slot];
  s.fd = fd;
  s.recv = recv;
  results_[slot] = -EAGAIN;
  // The first call enters the ring only once a second one comes: alone, submit() makes it.
  if (slot == 1) prepare(0);
  if (slot >= 1) prepare(slot);
  return slot;
}

void IoBatch::prepare(size_t slot) {
  Slot& s = (*slots_)[slot];
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_->ring);  // never null: the ring has kMaxCalls entries
  if (s.recv) io_uring_prep_recv(sqe, s.fd, s.iov[0].iov_base, s.iov[0].iov_len, kRecvFlags);
  else if (s.msg.msg_iovlen == 1) io_uring_prep_send(sqe, s.fd, s.iov[0].iov_base, s.iov[0].iov_len, kSendFlags);
  else io_uring_prep_sendmsg(sqe, s.fd, &s.msg, kSendFlags);
  io_uring_sqe_set_data64(sqe, slot);
}

void IoBatch::submit() {
  const size_t queued = count_;
  count_ = 0;
  if (queued == 0) return;
  if (queued == 1) {
    results_[0] = call_alone((*slots_)[0]);
    return;
  }
  io_uring& ring = ring_->ring;
  size_t submitted = 0;
  while (submitted < queued) {
    int r = io_uring_submit(&ring);
    if (r == -EINTR) continue;
    if (r <= 0) break;
    submitted += static_cast<size_t>(r);
  }
  io_uring_cqe* cqe = nullptr;
  if (submitted < queued) {
    // The kernel took only part of the batch (it could not allocate, say). The rest must never
    // reach it later with pointers that are stale by then, so the ring goes below; their slots
    // keep EAGAIN (a read waits for the next turn, a send for the socket to be writable, then
    // both are plain calls). The calls it did take are waited for first: their bytes may be
    // gone.
    if (submitted > 0) io_uring_wait_cqe_nr(&ring, &cqe, static_cast<unsigned>(submitted));
  } else if (io_uring_cq_ready(&ring) < queued) {
    // Calls flagged MSG_DONTWAIT complete during the submit; this wait is for a kernel that
    // posts their results a moment later.
    int r;
    do r = io_uring_wait_cqe_nr(&ring, &cqe, static_cast<unsigned>(queued));
    while (r == -EINTR);
  }
  unsigned head;
  unsigned seen = 0;
  io_uring_for_each_cqe(&ring, head, cqe) {
    uint64_t slot = io_uring_cqe_get_data64(cqe);
    if (slot < kMaxCalls) results_[slot] = cqe->res;
    ++seen;
  }
  io_uring_cq_advance(&ring, seen);
  if (submitted < queued) {
    io_uring_queue_exit(&ring);
    ring_->ready = false;
  }
}

#else  // no liburing: the worker keeps its plain calls

struct IoBatch::Ring {};
IoBatch::IoBatch() = default;
IoBatch::~IoBatch() = default;
bool IoBatch::is_open() const { return false; }
std::string IoBatch::open() { return "this build was made without liburing"; }
size_t IoBatch::add(int, bool) { return count_++; }
void IoBatch::prepare(size_t) {}
void IoBatch::submit() { count_ = 0; }

#endif

}  // namespace musqratt::net
