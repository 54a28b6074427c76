#pragma once
// NatsLink: the cluster link over NATS (the door of src/cluster; docs/cluster.md). It makes the
// broker's hooks into NATS traffic and brings other nodes' traffic back into the broker:
//   - QoS 0 messages over core NATS on <p>.m0.<subject>; QoS 1/2 into the JetStream stream
//     <P>_MSGS on <p>.m1.<subject> (acknowledged once stored with the configured replicas);
//   - this node subscribes only to what its sessions subscribe to: a core subscription per
//     filter for QoS 0, an ordered JetStream consumer per filter for QoS 1/2 (in order, gaps
//     repaired by the client library), NATS queue groups and a shared durable consumer for
//     shared subscriptions; every message reaches the broker once (DuplicateFilter);
//   - retained messages in <P>_RETAINED (one per subject), mirrored into every node;
//   - held messages, session hand-over, $SYS (see the other nats_*.cpp files).
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nats/nats.h>

#include "broker/broker.h"
#include "broker/cluster_link.h"
#include "cluster/ack_tracker.h"
#include "cluster/cluster_config.h"
#include "cluster/duplicate_filter.h"
#include "cluster/interest_table.h"
#include "cluster/session_record.h"
#include "cluster/task_queue.h"

namespace musqratt::cluster {

enum class SubKind : uint8_t;  // nats_link_internal.h

/// Thread: the ClusterLink hooks from any worker thread (non-blocking); NATS callbacks on the
/// client library's threads; blocking NATS work on the link's own task queue. Ownership: the
/// app owns it; start() before clients connect, stop() after the server stopped and before
/// the Broker goes.
class NatsLink final : public broker::ClusterLink {
 public:
  NatsLink(ClusterConfig config, broker::Broker& broker);
  ~NatsLink() override;
  NatsLink(const NatsLink&) = delete;
  NatsLink& operator=(const NatsLink&) = delete;

  /// Connects to NATS (in the background if no server answers yet: local traffic does not
  /// wait) and attaches to the broker. Returns an error message for what NATS refuses outright
  /// (unreadable TLS or credentials files).
  std::string start();
  /// Waits a moment for outstanding JetStream acknowledgements, then closes; no callback
  /// reaches the broker after it returns.
  void stop();

  // broker::ClusterLink
  uint64_t published(const broker::MessagePtr& msg, bool hold_if_unreceived) override;
  /// While NATS is away the node answers for its messages itself (they wait here for
  /// JetStream, up to max_pending): nothing is waited for, as on a single broker.
  uint64_t acked() const override { return linked() ? acks_.acked() : UINT64_MAX; }
  /// Connected to NATS now (one atomic load; the connection callbacks keep state_).
  bool linked() const { return state_.load(std::memory_order_acquire) == NATS_CONN_STATUS_CONNECTED; }
  void notify_when_acked(uint64_t seq, broker::Link link) override;
  void subscribed(const std::shared_ptr<broker::Session>& s, const std::string& filter,
                  const broker::SubscriptionRecord& rec) override;
  void unsubscribed(const broker::Session& s, const std::string& filter) override;
  bool resume(const std::string& client_id, broker::Link waiter) override;
  void connected(const std::shared_ptr<broker::Session>& s, bool clean_start) override;
  void disconnected(const std::shared_ptr<broker::Session>& s) override;
  void ended(const std::string& client_id) override;
  void sys_values(std::vector<std::pair<std::string, std::string>>& out) override;

  // What the connection and the streams look like (for $SYS, logs and tests).
  const std::string& node() const { return config_.node; }
  uint64_t instance() const { return instance_; }

  /// The receiving side of one NATS subscription (the callback's closure).
  struct SubContext;

 private:
  struct FilterSubs;

  // nats_link.cpp: connection, JetStream objects, heartbeats, $SYS
  static void on_connected(natsConnection* nc, void* self);
  static void on_disconnected(natsConnection* nc, void* self);
  static void on_reconnected(natsConnection* nc, void* self);
  static void on_closed(natsConnection* nc, void* self);
  static void on_error(natsConnection* nc, natsSubscription* sub, natsStatus err, void* self);
  void connection_up(const char* what);
  void ensure_streams();
  void heartbeat();
  void on_heartbeat(natsMsg* m);
  std::string subject_of(std::string_view kind, std::string_view topic) const;
  /// Blocking JetStream calls are made only while connected; otherwise they wait for it.
  bool nats_up() const { return nc_ && natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; }

  // nats_publish.cpp: QoS 1/2 into JetStream, acknowledgements and retries
  static void on_pub_ack(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* self);
  uint64_t publish_stored(const std::string& subject, const std::string& body);
  void send_stored(natsMsg* msg);
  void queue_locked(natsMsg* msg, bool front);
  void retry_later(natsMsg* msg);
  void retry_pending();
  /// QoS 1/2 messages handed to JetStream and not yet acknowledged, at most.
  static constexpr uint32_t kInFlight = 4096;
  void settle(uint64_t seq);

  // nats_receive.cpp: interest, subscriptions, messages in
  struct ReaderStart {
    uint64_t after_seq = 0;  // > 0: from the next stream sequence
    int64_t time_ns = 0;     // else from this time
    bool last_per_subject = false;  // else the newest message of each subject, then on
  };
  void reconcile(const std::string& key, int64_t since);
  bool apply_interest(const std::string& key, FilterSubs& subs);
  void drop_interest(FilterSubs& subs);
  SubContext* make_core(const std::string& subject, const std::string& queue, SubKind kind, const std::string& share_filter);
  SubContext* make_reader(const std::string& key, size_t index, const std::string& stream, const std::string& subject,
                          SubKind kind, ReaderStart start);
  void retire(SubContext* ctx);
  void reader_broken(SubContext& ctx);
  void reset_reader(const std::string& key, size_t index, uint64_t id);
  static void on_message(natsConnection* nc, natsSubscription* sub, natsMsg* m, void* ctx);
  void receive(SubContext& ctx, natsMsg* m);
  void start_retained_mirror();

  // nats_sessions.cpp: one client id, one session, cluster-wide
  /// Wakes the hand-over of a session whose connection here was asked to leave.
  class HandoverWaker final : public broker::Waker {
   public:
    explicit HandoverWaker(NatsLink& link) : link_(link) {}
    void wake(uint64_t token) override;

   private:
    NatsLink& link_;
  };
  std::function<uint64_t(const broker::Message&)> tagger() const;
  void session_changed(const broker::Session& s);
  void write_record(const broker::Session& s);
  void drop_record(const std::string& client_id);
  void checkpoint(bool periodic);
  std::optional<SessionRecord> read_record(const std::string& client_id, bool& failed);
  void resume_task(const std::string& client_id, broker::Link waiter);
  void recover_session(const std::string& client_id, const SessionRecord& rec, int64_t until_ms);
  void on_control(SubContext& ctx, natsMsg* m);
  void handover(const std::string& client_id, uint64_t instance, bool move, const std::string& reply);
  void handover_continue(uint64_t token);

  // nats_hold.cpp: hold_unsubscribed across nodes
  struct Probe {
    std::string hold_subject;
    std::string body;
    util::TimePoint deadline{};
  };
  bool hold_filter_overlaps(const std::string& filter) const;
  void probe(const broker::Message& msg, const std::string& body);
  void on_probe_reply(natsMsg* m);
  void resolve_probe(uint64_t id, bool hold);
  void sweep_probes();
  void take_held(std::weak_ptr<broker::Session> s, const std::string& filter, const broker::SubscriptionRecord& rec,
                 bool again);

  const ClusterConfig config_;
  broker::Broker& broker_;
  const uint64_t instance_;
  const std::string prefix_;  // subject_prefix + "."
  const std::string stream_msgs_, stream_retained_, stream_hold_, bucket_sessions_;

  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  TaskQueue tasks_;
  AckTracker acks_;
  InterestTable interest_;

  // Interest applied to NATS: touched on the task queue only.
  std::unordered_map<std::string, std::unique_ptr<FilterSubs>> applied_;
  SubContext* retained_ = nullptr;   // the retained mirror's reader
  SubContext* heartbeat_ = nullptr;
  // Stream readers by subscription, for the error callback (missed heartbeats, gaps).
  std::mutex readers_mu_;
  std::unordered_map<natsSubscription*, SubContext*> readers_;
  std::atomic<uint64_t> next_reader_id_{1};

  std::mutex dedupe_mu_;
  DuplicateFilter dedupe_;

  // QoS 1/2 messages waiting for their turn (beyond kInFlight) or to be sent again (no
  // acknowledgement in time, no connection), oldest first; sent from the task queue.
  std::mutex retry_mu_;
  std::deque<natsMsg*> retry_;
  uint32_t in_flight_ = 0;  // guarded by retry_mu_
  bool retry_scheduled_ = false;

  std::atomic<bool> streams_ready_{false};
  std::atomic<bool> kv_ready_{false};
  bool checkpoints_started_ = false;  // task queue only
  kvStore* kv_ = nullptr;  // the session bucket
  SubContext* takeover_sub_ = nullptr;
  SubContext* handover_sub_ = nullptr;
  // Sessions connected here (connect time, for takeover order) and records written by this node.
  struct Held {
    int64_t connected_ns = 0;
    uint64_t rev = 0;      // revision of the record this node wrote last (0: none)
    int64_t floor_ms = 0;  // see SessionRecord::floor_ms
    bool dirty = false;    // subscriptions changed since the record was written
  };
  std::mutex held_mu_;
  std::unordered_map<std::string, Held> held_;
  bool flush_scheduled_ = false;  // guarded by held_mu_
  HandoverWaker handover_waker_{*this};
  std::mutex handovers_mu_;
  std::unordered_map<uint64_t, std::pair<std::string, std::string>> handovers_;  // token -> client, reply
  uint64_t next_handover_ = 1;
  // Held messages (nats_hold.cpp).
  const bool hold_enabled_;
  std::atomic<bool> hold_ready_{false};
  SubContext* probe_sub_ = nullptr;
  std::mutex probes_mu_;
  std::unordered_map<uint64_t, Probe> probes_;
  uint64_t next_probe_ = 1;
  bool probe_sweep_scheduled_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<int> state_{0};  // natsConnStatus
  std::mutex peers_mu_;
  struct Peer {
    uint64_t instance = 0;
    util::TimePoint seen{};
  };
  std::unordered_map<std::string, Peer> peers_;

  // Counters ($SYS/broker/cluster/...).
  std::atomic<uint64_t> out_{0}, in_{0}, duplicates_{0}, lost_{0}, malformed_{0}, retries_{0}, disconnects_{0}, resets_{0};
  std::atomic<uint64_t> adopted_{0}, recovered_{0}, handed_over_{0}, takeovers_{0}, held_out_{0}, held_in_{0};
};

}  // namespace musqratt::cluster
