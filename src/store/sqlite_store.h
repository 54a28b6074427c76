#pragma once
// Durable storage in SQLite (WAL mode): the broker's Persistence operations are queued by any
// thread and applied by one writer thread in a transaction per batch (group commit). A
// publish is acknowledged only once the batch holding its operations is committed, so after
// kill -9 every acknowledged message is on disk. See docs/persistence.md.
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "broker/persistence.h"
#include "broker/session.h"
#include "util/latency_histogram.h"

namespace musqratt::store {

struct StoreOptions {
  std::string dir;
  /// "always": commit as soon as operations are waiting (each commit fsyncs).
  /// "batch": commit at most every `sync_interval_ms`.
  std::string sync = "always";
  uint32_t sync_interval_ms = 10;
  /// Queued messages of one session held in memory; the rest wait on disk (0 = no limit).
  uint32_t memory_queue_limit = 1000;
};

/// Thread: the Persistence methods may be called from any thread; a private writer thread
/// owns the database connection after open().
class SqliteStore : public broker::Persistence {
 public:
  explicit SqliteStore(StoreOptions options);
  ~SqliteStore() override;

  /// Opens (creating if needed) the database and reads back everything it holds. Throws
  /// std::runtime_error on failure. Starts the writer thread.
  broker::RestoredState open();
  void close();

  void session_saved(const std::string& client_id, uint32_t expiry, std::optional<int64_t> disconnected_wall_ms) override;
  void session_deleted(const std::string& client_id) override;
  void subscription_saved(const std::string& client_id, const std::string& filter,
                          const protocol::SubscribeOptions& options, uint32_t subscription_id) override;
  void subscription_deleted(const std::string& client_id, const std::string& filter) override;
  void outbound_saved(const std::string& client_id, uint64_t seq, const broker::Outbound& out,
                      broker::OutboundState state, uint16_t packet_id) override;
  void outbound_deleted(const std::string& client_id, uint64_t seq) override;
  void incoming_qos2_saved(const std::string& client_id, uint16_t packet_id) override;
  void incoming_qos2_deleted(const std::string& client_id, uint16_t packet_id) override;
  void retained_saved(const broker::MessagePtr& msg) override;
  void retained_deleted(const std::string& topic) override;
  void held_saved(uint64_t seq, const broker::MessagePtr& msg) override;
  void held_deleted(uint64_t seq) override;
  void will_saved(const std::string& client_id, const broker::MessagePtr& msg, int64_t fire_wall_ms) override;
  void will_deleted(const std::string& client_id) override;

  uint32_t memory_queue_limit() const override { return options_.memory_queue_limit; }
  void load_queued(const std::string& client_id, uint64_t from_seq, uint32_t limit,
                   std::function<void(std::vector<broker::RestoredOutbound>)> done) override;

  uint64_t last_issued() const override;
  uint64_t committed() const override { return committed_.load(std::memory_order_acquire); }
  void notify_when_durable(uint64_t seq, broker::Link link) override;

  /// Time from the submission of a batch's first write until the batch is committed (what the
  /// oldest write of each commit waited to become durable). Thread: any.
  util::LatencyHistogram::Snapshot commit_latency() const { return commit_latency_.snapshot(); }

 private:
  using Op = std::function<void(SqliteStore&)>;
  void issue(Op op);
  void writer_loop();
  void exec(const char* sql);
  sqlite3_stmt* stmt(const char* sql);
  void save_message(const broker::MessagePtr& msg);
  void collect_garbage();
  broker::RestoredState read_all();
  std::vector<broker::RestoredOutbound> read_queued(const std::string& client_id, uint64_t from_seq, uint32_t limit);

  const StoreOptions options_;
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> statements_;  // writer thread only
  std::unordered_set<uint64_t> saved_messages_;       // writer thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Op> pending_;  // guarded by mu_
  uint64_t issued_ = 0;      // guarded by mu_
  std::multimap<uint64_t, broker::Link> waiters_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  std::chrono::steady_clock::time_point first_pending_at_{};  // guarded by mu_: when pending_ last became non-empty
  util::LatencyHistogram commit_latency_;  // written by the writer thread
  std::atomic<uint64_t> committed_{0};
  std::thread writer_;
};

}  // namespace musqratt::store
