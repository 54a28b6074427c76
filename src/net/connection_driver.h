#pragma once
// The life of a connection, once for every transport. A transport's worker (epoll, io_uring,
// lwIP) supplies how bytes are written, how write interest is armed, how the write side is
// shut and how the socket is released, in the manner of Redis's ae backends; everything else
// is here: the connection table, received bytes to the Endpoint, the dirty list written once
// per loop turn, wake-ups, ticks, the graceful close and shutdown. Stream layers (TLS,
// WebSocket) are Endpoints stacked under the application, so no transport knows of them.
//
// The transport is the class deriving from this one (CRTP, so the calls below are direct):
//   std::optional<size_t> write_some(Connection&, std::string_view bytes)
//       bytes taken (0: would block, the transport marks the connection dirty when it can
//       take more), nullopt: the connection is broken;
//   std::optional<size_t> write_final(Connection&, std::string_view bytes)
//       the same, best effort and at once, when the worker is stopping;
//   std::optional<size_t> write_gather(Connection&, std::span<const std::string_view> runs)
//       optional: as write_some, for several runs in one call (large payloads are written
//       from the shared message instead of being copied into the output buffer first);
//   bool queueing_writes(), bool write_queue_full()
//   bool queue_write(Connection&, std::span<const std::string_view> runs)
//   void submit_writes()
//   std::optional<size_t> queued_result(size_t i)
//       optional, all five: the turn's first write of every dirty connection is queued
//       (false: write it now instead), handed to the kernel at once, and the i-th queued
//       write's outcome read as write_some's (one system call for the turn's sends);
//   bool drained(const Connection&)    nothing taken is still waiting to go out;
//   void set_write_interest(Connection&, bool want)
//   bool shutdown_write(Connection&)   half-close; false if the transport cannot, or failed
//   bool release(Connection&)          closes the socket; false while the transport still
//                                      owns the connection's memory (it then calls forget())
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "net/endpoint.h"
#include "net/listener.h"
#include "net/worker_base.h"
#include "util/log.h"

namespace musqratt::net {

template <class Transport, class Io>
class ConnectionDriver : public WorkerBase {
 public:
  using WorkerBase::WorkerBase;

  /// One connection: the transport's own state (`io`) and the top of its Endpoint stack.
  /// Lives in its node of the table: one allocation, and its address is stable (io_uring
  /// completions carry it).
  /// Every idle client pays for this node, so the flags sit in the tail padding of `io` (an
  /// epoll connection is 24 bytes).
  struct Connection {
    Connection(uint64_t t, Io&& i) : token(t), io(std::move(i)) {}
    uint64_t token;
    [[no_unique_address]] Io io;
    bool dirty : 1 = false;      // has output or is closing: visit at the end of the turn
    bool released : 1 = false;   // the socket is gone; the node waits for the transport's forget()
    bool lingering : 1 = false;  // the Endpoint is done; the write side is shut, input is drained
    std::unique_ptr<Endpoint> top;  // null once lingering or released
  };

  size_t connection_count() const { return connections_.size(); }

 protected:
  /// How long a closed connection waits for its peer's EOF after the write side is shut, so
  /// the peer reads our last words (a DISCONNECT with its reason) instead of a reset.
  static constexpr util::Millis kLinger{2000};

  Transport& transport() { return static_cast<Transport&>(*this); }

  Connection* find(uint64_t token) {
    auto it = connections_.find(token);
    return it == connections_.end() ? nullptr : &it->second;
  }

  /// A new connection: builds its Endpoint stack with the listener's factory.
  Connection& add(uint64_t token, Io io, const Listener& listener, std::string peer, util::TimePoint now) {
    return add(token, std::move(io), listener.make_endpoint, std::move(peer), now);
  }

  /// A new connection (accepted, or one of ours being opened): builds its Endpoint stack with
  /// `make`.
  Connection& add(uint64_t token, Io io, const EndpointFactory& make, std::string peer, util::TimePoint now) {
    auto [it, inserted] = connections_.try_emplace(token, token, std::move(io));
    set_connections(connections_.size());
    Connection& c = it->second;
    NewConnection nc{token, this, std::move(peer), now};
    c.top = make(nc);
    mark_dirty(c);  // an Endpoint may have something to say at once (a refusal, a CONNECT)
    return c;
  }

  /// The transport gave up on the connection (an outgoing connect refused or timed out):
  /// the Endpoint learns why, then the connection closes.
  void failed(Connection& c, std::string_view reason, util::TimePoint now) {
    if (c.top) c.top->on_transport_error(reason);
    close_now(c, now);
  }

  /// Bytes from the socket.
  void received(Connection& c, std::span<const uint8_t> data, util::TimePoint now) {
    if (c.top) c.top->on_bytes(data, now);
    mark_dirty(c);
  }

  /// The peer closed its side (EOF) or the connection broke: release it now.
  void ended(Connection& c, util::TimePoint now) { close_now(c, now); }

  void mark_dirty(Connection& c) {
    if (!c.dirty && !c.released) {
      c.dirty = true;
      dirty_.push_back(c.token);
    }
  }

  /// Once per loop turn: one write per connection, however many messages it was given.
  void flush_dirty(util::TimePoint now) {
    if constexpr (kQueuesWrites) {
      if (transport().queueing_writes()) return flush_dirty_queued(now);
    }
    for (size_t i = 0; i < dirty_.size(); ++i) {
      Connection* c = find(dirty_[i]);
      if (c == nullptr) continue;
      c->dirty = false;
      flush(*c, now);
    }
    dirty_.clear();
  }

  /// Writes what the connection's Endpoint has for it; closes it once it is done.
  void flush(Connection& c, util::TimePoint now) {
    if (c.released || c.lingering || !c.top) return;
    flush_after(c, write_pending(c), now);
  }

 private:
  /// write_pending's answer when the Endpoint had nothing to write.
  static constexpr size_t kNothingPending = SIZE_MAX;

  /// One write of what the Endpoint has pending: bytes taken, 0 if the socket would block,
  /// nullopt if the connection broke, kNothingPending if there was nothing to write.
  std::optional<size_t> write_pending(Connection& c) {
    Endpoint& top = *c.top;
    if constexpr (kGathers) {
      size_t count = top.pending_segments(runs_);
      if (count == 0) return kNothingPending;
      return count == 1 ? transport().write_some(c, runs_[0])
                        : transport().write_gather(c, std::span<const std::string_view>(runs_.data(), count));
    } else {
      std::string_view out = top.pending_output();
      if (out.empty()) return kNothingPending;
      return transport().write_some(c, out);
    }
  }

  /// Goes on from a write that had outcome `n` (write_pending's): writes until the Endpoint
  /// has nothing more or the socket is full, then closes a finished Endpoint or arms write
  /// interest.
  void flush_after(Connection& c, std::optional<size_t> n, util::TimePoint now) {
    bool pending = false;
    while (true) {
      if (!n) return close_now(c, now);
      if (*n == kNothingPending) break;
      if (*n == 0) {
        pending = true;
        break;
      }
      c.top->consume_output(*n, now);  // may produce more (queued messages held back)
      n = write_pending(c);
    }
    if (c.top->closing() && !pending) {
      if (transport().drained(c)) return close_gracefully(c, now);
      pending = true;  // the transport marks it dirty again once its copy has gone out
    }
    transport().set_write_interest(c, pending);
  }

  /// flush_dirty for a transport that queues writes: the first write of every dirty connection
  /// goes to the kernel in one batch, then each connection goes on as flush() would (a
  /// connection with more than one write's worth, rare, makes its further writes alone).
  void flush_dirty_queued(util::TimePoint now) {
    size_t i = 0;
    while (i < dirty_.size()) {  // consuming output may mark more connections dirty
      batch_.clear();
      for (; i < dirty_.size() && !transport().write_queue_full(); ++i) {
        Connection* c = find(dirty_[i]);
        if (c == nullptr) continue;
        c->dirty = false;
        if (c->released || c->lingering || !c->top) continue;
        size_t count = c->top->pending_segments(runs_);
        if (count == 0) {
          flush_after(*c, kNothingPending, now);
        } else if (transport().queue_write(*c, std::span<const std::string_view>(runs_.data(), count))) {
          batch_.push_back(c->token);
        } else {
          flush(*c, now);
        }
      }
      transport().submit_writes();
      for (size_t k = 0; k < batch_.size(); ++k) {
        Connection* c = find(batch_[k]);
        // Only this loop runs between the queueing and here; a connection an earlier one's
        // output closed has had its bytes sent to a socket that is gone now.
        if (c == nullptr || c->released || c->lingering || !c->top) continue;
        flush_after(*c, transport().queued_result(k), now);
      }
    }
    dirty_.clear();
  }

 protected:
  /// Closes at once: the socket goes, the Endpoint learns it.
  void close_now(Connection& c, util::TimePoint now) {
    if (c.released) return;
    if (c.top) {
      c.top->on_closed(now);
      c.top.reset();
    }
    c.released = true;
    c.lingering = false;
    if (transport().release(c)) erase(c.token);
  }

  /// Everything was written: shut the write side and drain the input until the peer's EOF
  /// (or kLinger), so a peer still sending does not turn our close into a reset that
  /// destroys the last packets we sent it.
  void close_gracefully(Connection& c, util::TimePoint now) {
    if (c.top) {
      c.top->on_closed(now);
      c.top.reset();
    }
    if (!transport().shutdown_write(c)) return close_now(c, now);
    c.lingering = true;
    lingering_.emplace_back(c.token, now + kLinger);
  }

  /// The transport finished with a released connection's memory.
  void forget(uint64_t token) { erase(token); }

  void process_wakes(std::vector<uint64_t>& tokens, util::TimePoint now) override {
    for (uint64_t t : tokens) {
      Connection* c = find(t);
      if (c == nullptr || !c->top) continue;
      c->top->on_wake(now);
      mark_dirty(*c);
    }
  }

  /// Keep-alive and connect timeouts. Every connection is visited once per kTickCycle, but a
  /// share of the table at a time, as much as the time since the last call is of the cycle:
  /// visiting 5 000 connections in one go held the loop for 0.4 to 1 ms (measured), a pause
  /// every message arriving meanwhile waited out.
  void tick(util::TimePoint now) override {
    const size_t buckets = connections_.bucket_count();
    size_t share = buckets;
    if (last_tick_ != util::TimePoint{} && now - last_tick_ < kTickCycle)
      share = std::min(buckets, static_cast<size_t>(buckets * std::chrono::nanoseconds(now - last_tick_).count() /
                                                    kTickCycle.count()) + 1);
    last_tick_ = now;
    for (size_t i = 0; i < share; ++i) {
      if (tick_bucket_ >= buckets) tick_bucket_ = 0;  // also after the table grew or shrank
      for (auto it = connections_.begin(tick_bucket_); it != connections_.end(tick_bucket_); ++it) {
        Connection& c = it->second;
        if (!c.top) continue;
        c.top->on_tick(now);
        if (c.top->closing() || !c.top->pending_output().empty()) mark_dirty(c);
      }
      ++tick_bucket_;
    }
    size_t kept = 0;
    for (auto& [token, until] : lingering_) {
      Connection* c = find(token);
      if (c == nullptr || !c->lingering) continue;
      if (now >= until) close_now(*c, now);
      else lingering_[kept++] = {token, until};
    }
    lingering_.resize(kept);
  }

  /// The server is stopping: every Endpoint says goodbye, what can be written at once is
  /// written, and the sockets close.
  void shutdown_connections(util::TimePoint now) {
    std::vector<uint64_t> tokens;
    tokens.reserve(connections_.size());
    for (auto& [token, c] : connections_) tokens.push_back(token);
    for (uint64_t t : tokens) {
      Connection* c = find(t);
      if (c == nullptr || c->released) continue;
      if (c->top) {
        c->top->on_shutdown();
        while (true) {  // best effort: what the socket takes now
          std::string_view out = c->top->pending_output();
          if (out.empty()) break;
          std::optional<size_t> n = transport().write_final(*c, out);
          if (!n || *n == 0) break;
          c->top->consume_output(*n, now);
        }
      }
      close_now(*c, now);
    }
  }

  std::unordered_map<uint64_t, Connection> connections_;
  /// Whether the transport writes several runs in one call.
  static constexpr bool kGathers = requires(Transport& t, Connection& c, std::span<const std::string_view> r) {
    t.write_gather(c, r);
  };
  /// Whether the transport queues a turn's writes into one system call (see the top).
  static constexpr bool kQueuesWrites = requires(Transport& t, Connection& c, std::span<const std::string_view> r) {
    t.queueing_writes();
    t.write_queue_full();
    t.queue_write(c, r);
    t.submit_writes();
    t.queued_result(size_t{0});
  };
  static constexpr size_t kMaxRuns = 64;  // a 256 KiB read of 16 KiB messages needs 33
  static constexpr std::chrono::nanoseconds kTickCycle = std::chrono::milliseconds(500);
  util::TimePoint last_tick_{};
  size_t tick_bucket_ = 0;  // where the next tick goes on

 private:
  void erase(uint64_t token) {
    connections_.erase(token);
    set_connections(connections_.size());
  }

  std::vector<uint64_t> dirty_;
  std::vector<uint64_t> batch_;  // the connections of the queued writes, in their order
  std::vector<std::pair<uint64_t, util::TimePoint>> lingering_;
  // The runs of one gathered write: here, not on the stack, so that no write pays for
  // initialising 64 of them.
  std::array<std::string_view, kMaxRuns> runs_;
};

}  // namespace musqratt::net
