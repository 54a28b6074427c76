#pragma once
// One system call for a loop turn's reads, and one for its sends. The epoll worker reads each
// readable connection and writes each dirty one once per turn; with a recv and a sendmsg per
// connection, a QoS 1 flood over ten pairs made about one system call for every three
// messages, and on a virtual machine a system call's entry and exit cost as much as the work
// in it. Queued here, the turn's reads (then its sends) go to the kernel in one io_uring_enter,
// each flagged MSG_DONTWAIT so that the kernel performs it at once, as the plain call would
// (an empty or full socket answers EAGAIN instead of being waited on), and every result is
// known when submit() returns. Sockets, buffers and back-pressure stay the epoll worker's;
// only the way into the kernel changes. A batch of one is made with the plain call: a ring
// costs more than it saves for one.
//
// Built on liburing when the build has it (MUSQRATT_HAVE_URING); without it, or when the kernel
// refuses io_uring (seccomp, kernel.io_uring_disabled), open() fails and the worker keeps its
// plain calls.
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace musqratt::net {

class IoBatch {
 public:
  /// Calls queued before a submit; a turn with more connections submits in several goes.
  static constexpr size_t kMaxCalls = 64;
  /// Runs (iovecs) per send: the connection driver's largest gather.
  static constexpr size_t kMaxRuns = 64;

  IoBatch();
  ~IoBatch();
  IoBatch(const IoBatch&) = delete;
  IoBatch& operator=(const IoBatch&) = delete;

  /// Sets up the ring on the calling thread (the one that will submit). Returns an empty
  /// string, or why the kernel or the build cannot batch.
  std::string open();
  bool is_open() const;

  bool full() const { return count_ == kMaxCalls; }
  size_t size() const { return count_; }

  /// Queues one send of `runs` on `fd` (at most kMaxRuns are taken); returns its slot.
  /// The runs' bytes must stay where they are until submit() returns.
  size_t add_send(int fd, std::span<const std::string_view> runs);
  /// Queues one receive on `fd` into `into`; returns its slot.
  size_t add_recv(int fd, std::span<uint8_t> into);

  /// Hands every queued call to the kernel and waits for their results (they complete during
  /// the call). Afterwards result(slot) holds bytes sent or received (0: end of stream) or
  /// -errno, and the batch is empty for the next add; the results stay until then.
  void submit();
  ssize_t result(size_t slot) const { return results_[slot]; }

 private:
  struct Ring;
  struct Slot {  // one queued call
    int fd;
    bool recv;
    msghdr msg;
    std::array<iovec, kMaxRuns> iov;
  };
  size_t add(int fd, bool recv);
  void prepare(size_t slot);   // the slot's call into the ring
  ssize_t call_alone(Slot& s);  // the slot's call as a plain system call

  std::unique_ptr<Ring> ring_;
  std::unique_ptr<std::array<Slot, kMaxCalls>> slots_;
  std::array<ssize_t, kMaxCalls> results_{};
  size_t count_ = 0;
};

}  // namespace musqratt::net
