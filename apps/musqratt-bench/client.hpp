// One MQTT client connection: its protocol state machine and per-connection bookkeeping.
// The engine owns the socket; this code only turns received bytes into replies and counts.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "buffer.hpp"
#include "histogram.hpp"
#include "options.hpp"
#include "wire.hpp"

namespace mqb {

enum class Role : uint8_t { pub, sub, idle };
enum class State : uint8_t { init, tcp_connecting, wait_connack, wait_suback, ready, closed };

// Figures of one generator thread; only that thread writes them.
struct Stats {
  uint64_t sent = 0;            // PUBLISH packets written
  uint64_t completed = 0;       // QoS 1/2 publishes acknowledged (PUBACK / PUBCOMP)
  uint64_t received = 0;        // PUBLISH packets received by subscribers
  uint64_t unique = 0;          // distinct (publisher, sequence) received per subscriber
  uint64_t dup = 0;
  uint64_t out_of_order = 0;
  uint64_t unexpected = 0;      // payload not from this run / this subscriber's publishers
  uint64_t connect_errors = 0;
  uint64_t publish_errors = 0;  // v5 negative acks, refused subscriptions
  uint64_t disconnects = 0;     // established connections lost during the run
  uint64_t connected = 0;       // handshakes completed (CONNACK, and SUBACK for subscribers)
  uint64_t closed = 0;
  int64_t last_delivery_ns = 0;
  int64_t last_pub_done_ns = 0;
  // The measured window (set by the engine when publishing starts): latency is recorded for
  // messages sent inside it, window_delivered counts deliveries received inside it.
  int64_t window_start_ns = 0;
  int64_t window_end_ns = INT64_MAX;
  uint64_t window_delivered = 0;
  Histogram latency;   // end to end, ns
  Histogram connect;   // TCP connect start .. CONNACK (.. SUBACK for subscribers), ns
};

// Per (subscriber, publisher) sequence tracking: a bitmap of seen sequence numbers.
struct Stream {
  std::vector<uint64_t> seen;
  uint32_t next = 0;  // highest sequence seen + 1
};

class Client {
 public:
  Role role = Role::idle;
  uint32_t index = 0;
  std::string client_id;
  State state = State::init;
  int fd = -1;
  bool armed_out = false;   // EPOLLOUT registered
  bool dirty = false;       // in the engine's flush list
  bool closing = false;     // we asked for the close: not an error
  bool clean = true;        // clean session / clean start on the next CONNECT
  bool session_present = false;
  int64_t connect_start = 0;
  int64_t last_send = 0;
  Buf in, out;

  // Publisher.
  wire::PublishTemplate tmpl;
  uint32_t seq = 0;
  uint32_t inflight = 0;
  uint32_t window = 1;  // min(--inflight, the server's Receive Maximum)
  uint16_t next_pid = 1;
  bool pub_done = false;
  bool ping_pending = false;  // queue: PINGREQ sent after the last publish, PINGRESP not yet in
  bool pinged = false;

  // Subscriber.
  std::string filter;
  uint32_t stream_base = 0;
  std::vector<Stream> streams;
  bool stalled = false;  // queue: no longer read (its messages stay queued in the broker)

  // TCP is up: queue CONNECT.
  void start_session(const Options& o);
  // Handles every complete packet in `in`. Returns false if the connection must be closed.
  bool on_input(Stats& st, const Options& o, int64_t now);
  // Appends n PUBLISH packets stamped with `now`.
  void publish(Stats& st, uint32_t n, int64_t now);

 private:
  void on_publish(Stats& st, const Options& o, const wire::Header& h, const uint8_t* body, int64_t now);
  void record(Stats& st, uint32_t pub, uint32_t seq, int64_t sent_ns, int64_t now);
};

}  // namespace mqb
