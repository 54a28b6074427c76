#pragma once
// Durable storage in SQLite (WAL mode): the broker's Persistence operations are queued by any
// thread and applied by one writer thread in a transaction per batch (group commit). A
// publish is acknowledged only once the batch holding its operations is committed, so after
// kill -9 every acknowledged message is on disk. When the disk is full the store neither
// stops nor loses what it committed: it holds back what it cannot write, keeps reading and
// deleting, and writes the rest once there is room again. See docs/persistence.md.
#include <sqlite3.h>

#include <atomic>
#include <chrono>
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
#include "store/backlog.h"
#include "store/reserve_file.h"
#include "store/store_op.h"
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
  /// Space kept in reserve next to the database for deleting and checkpointing on a full disk
  /// (see ReserveFile); 0 = none.
  uint64_t reserve_bytes = 8 << 20;
  /// The database file may not grow beyond this (0 = as far as the disk allows). Reaching it
  /// is handled like a full disk.
  uint64_t max_bytes = 0;
};

/// Thread: the Persistence methods may be called from any thread; a private writer thread
/// owns the database connection after open().
class SqliteStore : public broker::Persistence {
 public:
  /// The store format this version writes, and the only one it reads (see the notes in
  /// sqlite_store.cpp).
  static constexpr int kFormat = 1;

  explicit SqliteStore(StoreOptions options);
  ~SqliteStore() override;

  /// Opens (creating if needed) the database and reads back everything it holds. Throws
  /// std::runtime_error on failure (not a database, a format this version cannot read, a
  /// failed integrity check). Starts the writer thread. A full disk is not a failure: the
  /// store opens with accepting_writes() false.
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

  bool accepting_writes() const override { return !disk_full_.load(std::memory_order_acquire); }
  broker::StoreStatus status() const override;
  /// Time from the submission of a batch's first write until the batch is committed (what the
  /// oldest write of each commit waited to become durable). Thread: any.
  util::LatencyHistogram::Snapshot commit_latency() const { return commit_latency_.snapshot(); }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Outcome { Ok, NoSpace, Failed };

  /// A cached prepared statement, reset when the Query goes out of scope: a statement left
  /// mid-result would hold a read snapshot and keep checkpoints from resetting the WAL.
  class Query {
   public:
    explicit Query(sqlite3_stmt* s) : s_(s) {}
    ~Query() {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    operator sqlite3_stmt*() const { return s_; }
    /// Steps a statement that returns no rows: SQLITE_OK or the error.
    int run() const {
      int rc = sqlite3_step(s_);
      return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
    }

   private:
    sqlite3_stmt* s_;
  };

  void issue(OpBody body);
  Query query(const char* sql);
  void exec(const char* sql);  // throws; start-up only
  int exec_rc(const char* sql);
  int64_t pragma_int(const char* sql);
  broker::RestoredState open_and_read();
  void create_or_check_schema(const std::string& path);

  // Writer thread.
  void writer_loop();
  int apply(Op& op);
  int save_message(const broker::MessagePtr& msg);
  Outcome transact(const std::vector<Op*>& ops);
  Outcome classify(int rc);
  void commit_batch(std::vector<Op>& batch);
  void enter_disk_full(const char* why);
  void work_while_full(Clock::time_point now);
  void checkpoint();
  void publish_committed(uint64_t upto);
  void collect_garbage();
  /// Returns free pages beyond `keep_pages` to the filesystem (incremental vacuum), a bounded
  /// number per call.
  void give_back_space(int64_t keep_pages);
  /// Steps `q` to its end, keeping the msg_id each result row returns as a candidate for
  /// garbage collection.
  int run_collecting(Query& q);
  /// The message a row about to be replaced refers to becomes a candidate.
  int forget_previous(const char* select_sql, const std::string& key, int64_t int_key);
  [[noreturn]] void fail(const char* what);
  broker::RestoredState read_all();
  int read_queued(const std::string& client_id, uint64_t from_seq, uint32_t limit,
                  std::vector<broker::RestoredOutbound>& out);
  static void overlay_page(const std::vector<const Op*>& waiting, const op::LoadQueued& read,
                           std::vector<broker::RestoredOutbound>& rows);

  const StoreOptions options_;
  std::string path_;
  int lock_fd_ = -1;  // flock()ed: one broker per store
  int64_t page_size_ = 4096;
  int64_t max_pages_ = 0;  // 0: no cap of our own
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> statements_;  // writer thread only
  std::unordered_set<uint64_t> saved_messages_;       // writer thread only
  std::vector<int64_t> gc_candidates_;                // writer thread only: messages maybe unreferenced
  int64_t gc_cursor_ = 0;                             // writer thread only: where the sweep goes on
  ReserveFile reserve_;                               // writer thread only (after open)
  std::string last_error_;                            // writer thread only

  // The disk-full state (writer thread, except the atomics).
  Backlog backlog_;
  uint64_t taken_ = 0;  // operations taken from pending_ so far
  Clock::time_point full_since_{}, next_hoist_{}, next_retry_{}, next_full_log_{}, last_full_report_{};
  std::atomic<bool> disk_full_{false};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> waiting_{0};

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
