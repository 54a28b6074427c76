#include "store/sqlite_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "protocol/property_codec.h"
#include "util/log.h"

namespace musqratt::store {

using broker::MessagePtr;
using broker::OutboundState;

namespace {

// Format version 1. A later version adds a reader for older files instead of changing these.
constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,
  qos INTEGER NOT NULL, retain INTEGER NOT NULL, props BLOB, expires_at INTEGER);
CREATE TABLE IF NOT EXISTS sessions(client_id TEXT PRIMARY KEY, expiry INTEGER NOT NULL, disconnected_at INTEGER);
CREATE TABLE IF NOT EXISTS subscriptions(client_id TEXT NOT NULL, filter TEXT NOT NULL, options INTEGER NOT NULL,
  sub_id INTEGER NOT NULL, PRIMARY KEY(client_id, filter));
CREATE TABLE IF NOT EXISTS queue(client_id TEXT NOT NULL, seq INTEGER NOT NULL, msg_id INTEGER NOT NULL,
  qos INTEGER NOT NULL, retain INTEGER NOT NULL, sub_ids BLOB, state INTEGER NOT NULL, packet_id INTEGER NOT NULL,
  PRIMARY KEY(client_id, seq));
CREATE INDEX IF NOT EXISTS queue_msg ON queue(msg_id);
CREATE TABLE IF NOT EXISTS incoming_qos2(client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY(client_id, packet_id));
CREATE TABLE IF NOT EXISTS retained(topic TEXT PRIMARY KEY, msg_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS held(seq INTEGER PRIMARY KEY, msg_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS wills(client_id TEXT PRIMARY KEY, msg_id INTEGER NOT NULL, fire_at INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('format', '1');
)SQL";

uint8_t pack_options(const protocol::SubscribeOptions& o) {
  return static_cast<uint8_t>(o.qos | (o.no_local ? 4 : 0) | (o.retain_as_published ? 8 : 0) | (o.retain_handling << 4));
}
protocol::SubscribeOptions unpack_options(int v) {
  protocol::SubscribeOptions o;
  o.qos = v & 3;
  o.no_local = v & 4;
  o.retain_as_published = v & 8;
  o.retain_handling = (v >> 4) & 3;
  return o;
}

std::string pack_ids(const std::vector<uint32_t>& ids) {
  std::string s;
  for (uint32_t id : ids) s.append(reinterpret_cast<const char*>(&id), sizeof id);
  return s;
}
std::vector<uint32_t> unpack_ids(const void* data, int n) {
  std::vector<uint32_t> ids(static_cast<size_t>(n) / sizeof(uint32_t));
  if (!ids.empty()) memcpy(ids.data(), data, ids.size() * sizeof(uint32_t));
  return ids;
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) { sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
void bind_blob(sqlite3_stmt* s, int i, const std::string& v) { sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
std::string col_text(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string(static_cast<const char*>(p), n) : std::string();
}

int64_t now_wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

SqliteStore::SqliteStore(StoreOptions options) : options_(std::move(options)) {}

SqliteStore::~SqliteStore() { close(); }

void SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error(std::string("persistence: ") + msg);
  }
}

sqlite3_stmt* SqliteStore::stmt(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) {
    sqlite3_reset(it->second);
    sqlite3_clear_bindings(it->second);
    return it->second;
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string("persistence: ") + sqlite3_errmsg(db_));
  statements_[sql] = s;
  return s;
}

broker::RestoredState SqliteStore::open() {
  if (mkdir(options_.dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error("persistence: cannot create " + options_.dir + ": " + strerror(errno));
  std::string path = options_.dir + "/musqratt.db";
  if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK)
    throw std::runtime_error("persistence: cannot open " + path + ": " + sqlite3_errmsg(db_));
  // WAL + synchronous=FULL: a COMMIT returns only after the log is fsynced; a crash at any
  // moment leaves the last committed transaction intact and never a torn one.
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;");
  exec(kSchema);
  sqlite3_stmt* check = stmt("PRAGMA quick_check");
  if (sqlite3_step(check) != SQLITE_ROW || col_text(check, 0) != "ok")
    throw std::runtime_error("persistence: " + path + " failed its integrity check");
  auto t0 = std::chrono::steady_clock::now();
  broker::RestoredState r = read_all();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  LOG_INFO("persistence: opened %s (sync %s) and read it back in %lld ms", path.c_str(), options_.sync.c_str(),
           static_cast<long long>(ms));
  writer_ = std::thread([this] { writer_loop(); });
  return r;
}

namespace {

constexpr const char* kMessageColumns = "m.id, m.topic, m.payload, m.qos, m.retain, m.props, m.expires_at";

/// A message from the seven kMessageColumns starting at column `c`; null if they are NULL (a
/// LEFT JOIN that found no message row).
MessagePtr read_message(sqlite3_stmt* s, int c) {
  if (sqlite3_column_type(s, c) == SQLITE_NULL) return nullptr;
  auto m = std::make_shared<broker::Message>();
  m->id = static_cast<uint64_t>(sqlite3_column_int64(s, c));
  m->topic = col_text(s, c + 1);
  m->payload = col_text(s, c + 2);
  m->qos = static_cast<uint8_t>(sqlite3_column_int(s, c + 3));
  m->retain = sqlite3_column_int(s, c + 4) != 0;
  std::string props = col_text(s, c + 5);
  if (!props.empty()) {
    protocol::wire::Reader in({reinterpret_cast<const uint8_t*>(props.data()), props.size()});
    protocol::DecodeError err;
    auto p = std::make_shared<protocol::Properties>();
    if (protocol::decode_properties(in, protocol::PropertyContext::Publish, *p, err)) m->properties = std::move(p);
  }
  if (sqlite3_column_type(s, c + 6) != SQLITE_NULL) m->expires_at = broker::steady_from_wall_ms(sqlite3_column_int64(s, c + 6));
  return m;
}

/// The queue columns of a RestoredOutbound, then its message (columns 6..12).
constexpr const char* kOutboundSelect =
    "SELECT q.seq, q.qos, q.retain, q.sub_ids, q.state, q.packet_id, m.id, m.topic, m.payload, m.qos, m.retain, "
    "m.props, m.expires_at FROM queue q LEFT JOIN messages m ON m.id = q.msg_id ";

broker::RestoredOutbound read_outbound(sqlite3_stmt* s) {
  broker::RestoredOutbound o;
  o.seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
  o.qos = static_cast<uint8_t>(sqlite3_column_int(s, 1));
  o.retain = sqlite3_column_int(s, 2) != 0;
  o.subscription_ids = unpack_ids(sqlite3_column_blob(s, 3), sqlite3_column_bytes(s, 3));
  o.state = static_cast<OutboundState>(sqlite3_column_int(s, 4));
  o.packet_id = static_cast<uint16_t>(sqlite3_column_int(s, 5));
  o.msg = read_message(s, 6);
  return o;
}

}  // namespace

std::vector<broker::RestoredOutbound> SqliteStore::read_queued(const std::string& client_id, uint64_t from_seq,
                                                               uint32_t limit) {
  static const std::string sql = std::string(kOutboundSelect) +
                                 "WHERE q.client_id = ? AND q.state = 0 AND q.seq >= ? ORDER BY q.seq LIMIT ?";
  sqlite3_stmt* s = stmt(sql.c_str());
  bind_text(s, 1, client_id);
  sqlite3_bind_int64(s, 2, static_cast<int64_t>(from_seq));
  sqlite3_bind_int64(s, 3, limit ? limit : -1);
  std::vector<broker::RestoredOutbound> rows;
  while (sqlite3_step(s) == SQLITE_ROW) {
    broker::RestoredOutbound o = read_outbound(s);
    if (o.msg) rows.push_back(std::move(o));
  }
  return rows;
}

// Reads back sessions with their in-flight messages and at most memory_queue_limit queued ones
// each (the rest stay on disk and are counted), retained and held messages and wills. Nothing
// reads the whole messages table: start-up time and memory do not grow with the disk queue.
broker::RestoredState SqliteStore::read_all() {
  broker::RestoredState r;
  int64_t wall_now = now_wall_ms();
  sqlite3_stmt* s = stmt("SELECT MAX(id) FROM messages");
  if (sqlite3_step(s) == SQLITE_ROW) r.max_message_id = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
  std::unordered_map<std::string, size_t> index;
  s = stmt("SELECT client_id, expiry, disconnected_at FROM sessions");
  while (sqlite3_step(s) == SQLITE_ROW) {
    broker::RestoredSession rs;
    rs.client_id = col_text(s, 0);
    rs.expiry = static_cast<uint32_t>(sqlite3_column_int64(s, 1));
    if (sqlite3_column_type(s, 2) != SQLITE_NULL) rs.disconnected_wall_ms = sqlite3_column_int64(s, 2);
    else rs.disconnected_wall_ms = wall_now;  // it was online when the broker stopped
    index[rs.client_id] = r.sessions.size();
    r.sessions.push_back(std::move(rs));
  }
  s = stmt("SELECT client_id, filter, options, sub_id FROM subscriptions");
  while (sqlite3_step(s) == SQLITE_ROW) {
    auto it = index.find(col_text(s, 0));
    if (it == index.end()) continue;
    r.sessions[it->second].subscriptions.push_back(
        {col_text(s, 1), {unpack_options(sqlite3_column_int(s, 2)), static_cast<uint32_t>(sqlite3_column_int64(s, 3))}});
  }
  static const std::string inflight_sql = std::string(kOutboundSelect) + "WHERE q.client_id = ? AND q.state != 0 ORDER BY q.seq";
  for (broker::RestoredSession& rs : r.sessions) {
    s = stmt(inflight_sql.c_str());
    bind_text(s, 1, rs.client_id);
    while (sqlite3_step(s) == SQLITE_ROW) {
      broker::RestoredOutbound o = read_outbound(s);
      if (!o.msg && o.state != OutboundState::AwaitPubcomp) continue;
      rs.outbound.push_back(std::move(o));
    }
    for (broker::RestoredOutbound& o : read_queued(rs.client_id, 0, options_.memory_queue_limit))
      rs.outbound.push_back(std::move(o));
    if (options_.memory_queue_limit) {  // without a limit the whole queue was read above
      uint64_t last_in_memory = 0;
      for (const auto& o : rs.outbound)
        if (o.state == OutboundState::Queued) last_in_memory = o.seq;
      // length() of a blob reads only its header, not the payload.
      s = stmt("SELECT COUNT(*), SUM(length(m.payload)), MIN(q.seq) FROM queue q JOIN messages m ON m.id = q.msg_id "
               "WHERE q.client_id = ? AND q.state = 0 AND q.seq > ?");
      bind_text(s, 1, rs.client_id);
      sqlite3_bind_int64(s, 2, static_cast<int64_t>(last_in_memory));
      if (sqlite3_step(s) == SQLITE_ROW) {
        rs.queued_on_disk = static_cast<uint32_t>(sqlite3_column_int64(s, 0));
        rs.queued_on_disk_bytes = static_cast<uint64_t>(sqlite3_column_int64(s, 1));
        rs.disk_from_seq = static_cast<uint64_t>(sqlite3_column_int64(s, 2));
      }
    }
    s = stmt("SELECT MAX(seq) FROM queue WHERE client_id = ?");
    bind_text(s, 1, rs.client_id);
    if (sqlite3_step(s) == SQLITE_ROW) rs.max_seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
  }
  s = stmt("SELECT client_id, packet_id FROM incoming_qos2");
  while (sqlite3_step(s) == SQLITE_ROW) {
    auto it = index.find(col_text(s, 0));
    if (it != index.end()) r.sessions[it->second].incoming_qos2.push_back(static_cast<uint16_t>(sqlite3_column_int(s, 1)));
  }
  static const std::string retained_sql = std::string("SELECT ") + kMessageColumns + " FROM retained r JOIN messages m ON m.id = r.msg_id";
  s = stmt(retained_sql.c_str());
  while (sqlite3_step(s) == SQLITE_ROW) r.retained.push_back(read_message(s, 0));
  static const std::string held_sql = std::string("SELECT h.seq, ") + kMessageColumns + " FROM held h JOIN messages m ON m.id = h.msg_id ORDER BY h.seq";
  s = stmt(held_sql.c_str());
  while (sqlite3_step(s) == SQLITE_ROW) r.held.push_back({static_cast<uint64_t>(sqlite3_column_int64(s, 0)), read_message(s, 1)});
  static const std::string wills_sql = std::string("SELECT w.client_id, w.fire_at, ") + kMessageColumns + " FROM wills w JOIN messages m ON m.id = w.msg_id";
  s = stmt(wills_sql.c_str());
  while (sqlite3_step(s) == SQLITE_ROW) r.wills.push_back({col_text(s, 0), {read_message(s, 2), sqlite3_column_int64(s, 1)}});
  return r;
}

void SqliteStore::load_queued(const std::string& client_id, uint64_t from_seq, uint32_t limit,
                              std::function<void(std::vector<broker::RestoredOutbound>)> done) {
  // An operation like the writes: it runs after everything issued before it, in the writer's
  // transaction, so it sees every row saved so far.
  issue([client_id, from_seq, limit, done = std::move(done)](SqliteStore& st) {
    done(st.read_queued(client_id, from_seq, limit));
  });
}

void SqliteStore::close() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  for (auto& [sql, s] : statements_) sqlite3_finalize(s);
  statements_.clear();
  if (db_) sqlite3_close(db_);
  db_ = nullptr;
}

// ---------------------------------------------------------------- the writer thread

void SqliteStore::issue(Op op) {
  std::lock_guard lock(mu_);
  pending_.push_back(std::move(op));
  ++issued_;
  if (pending_.size() == 1) {
    first_pending_at_ = std::chrono::steady_clock::now();
    cv_.notify_one();
  }
}

uint64_t SqliteStore::last_issued() const {
  std::lock_guard lock(mu_);
  return issued_;
}

void SqliteStore::notify_when_durable(uint64_t seq, broker::Link link) {
  {
    std::lock_guard lock(mu_);
    if (committed() < seq) {
      waiters_.emplace(seq, link);
      return;
    }
  }
  link.waker->wake(link.token);
}

void SqliteStore::writer_loop() {
  std::vector<Op> batch;
  auto last_gc = std::chrono::steady_clock::now();
  while (true) {
    uint64_t upto;
    std::chrono::steady_clock::time_point submitted;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty() && stopping_) break;
      if (options_.sync == "batch" && !stopping_) {
        // Let a batch gather: fewer, larger transactions, at the cost of acknowledgement latency.
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.sync_interval_ms));
        lock.lock();
      }
      batch.swap(pending_);
      upto = issued_;
      submitted = first_pending_at_;
    }
    if (!batch.empty()) {
      try {
        exec("BEGIN");
        for (Op& op : batch) op(*this);
        exec("COMMIT");
        commit_latency_.record(std::chrono::steady_clock::now() - submitted);
      } catch (const std::exception& e) {
        // Acknowledging what is not durable would break the guarantee: stop here.
        LOG_ERROR("%s: cannot continue without durable storage", e.what());
        std::abort();
      }
      batch.clear();
    }
    committed_.store(upto, std::memory_order_release);
    std::vector<broker::Link> ready;
    {
      std::lock_guard lock(mu_);
      auto end = waiters_.upper_bound(upto);
      for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(it->second);
      waiters_.erase(waiters_.begin(), end);
    }
    for (const auto& l : ready) l.waker->wake(l.token);
    if (std::chrono::steady_clock::now() - last_gc > std::chrono::seconds(5)) {
      collect_garbage();
      last_gc = std::chrono::steady_clock::now();
    }
  }
}

void SqliteStore::collect_garbage() {
  try {
    exec("DELETE FROM messages WHERE id NOT IN (SELECT msg_id FROM queue UNION SELECT msg_id FROM retained "
         "UNION SELECT msg_id FROM held UNION SELECT msg_id FROM wills)");
    saved_messages_.clear();  // re-saving is idempotent (INSERT OR IGNORE)
  } catch (const std::exception& e) {
    LOG_WARN("%s (garbage collection)", e.what());
  }
}

void SqliteStore::save_message(const MessagePtr& m) {
  if (!m || !saved_messages_.insert(m->id).second) return;
  sqlite3_stmt* s = stmt("INSERT OR IGNORE INTO messages(id, topic, payload, qos, retain, props, expires_at) VALUES(?,?,?,?,?,?,?)");
  sqlite3_bind_int64(s, 1, static_cast<int64_t>(m->id));
  bind_text(s, 2, m->topic);
  bind_blob(s, 3, m->payload);
  sqlite3_bind_int(s, 4, m->qos);
  sqlite3_bind_int(s, 5, m->retain ? 1 : 0);
  std::string props;
  if (m->properties) protocol::encode_properties(props, *m->properties);
  bind_blob(s, 6, props);
  if (m->expires_at) sqlite3_bind_int64(s, 7, broker::wall_ms_from(*m->expires_at));
  sqlite3_step(s);
}

// ---------------------------------------------------------------- operations

void SqliteStore::session_saved(const std::string& client_id, uint32_t expiry, std::optional<int64_t> at) {
  issue([=](SqliteStore& st) {
    sqlite3_stmt* s = st.stmt("INSERT OR REPLACE INTO sessions(client_id, expiry, disconnected_at) VALUES(?,?,?)");
    bind_text(s, 1, client_id);
    sqlite3_bind_int64(s, 2, expiry);
    if (at) sqlite3_bind_int64(s, 3, *at);
    sqlite3_step(s);
  });
}

void SqliteStore::session_deleted(const std::string& client_id) {
  issue([=](SqliteStore& st) {
    for (const char* sql : {"DELETE FROM sessions WHERE client_id=?", "DELETE FROM subscriptions WHERE client_id=?",
                            "DELETE FROM queue WHERE client_id=?", "DELETE FROM incoming_qos2 WHERE client_id=?"}) {
      sqlite3_stmt* s = st.stmt(sql);
      bind_text(s, 1, client_id);
      sqlite3_step(s);
    }
  });
}

void SqliteStore::subscription_saved(const std::string& client_id, const std::string& filter,
                                     const protocol::SubscribeOptions& options, uint32_t sub_id) {
  uint8_t packed = pack_options(options);
  issue([=](SqliteStore& st) {
    sqlite3_stmt* s = st.stmt("INSERT OR REPLACE INTO subscriptions(client_id, filter, options, sub_id) VALUES(?,?,?,?)");
    bind_text(s, 1, client_id);
    bind_text(s, 2, filter);
    sqlite3_bind_int(s, 3, packed);
    sqlite3_bind_int64(s, 4, sub_id);
    sqlite3_step(s);
  });
}

void SqliteStore::subscription_deleted(const std::string& client_id, const std::string& filter) {
  issue([=](SqliteStore& st) {
    sqlite3_stmt* s = st.stmt("DELETE FROM subscriptions WHERE client_id=? AND filter=?");
    bind_text(s, 1, client_id);
    bind_text(s, 2, filter);
    sqlite3_step(s);
  });
}

void SqliteStore::outbound_saved(const std::string& client_id, uint64_t seq, const broker::Outbound& out,
                                 OutboundState state, uint16_t packet_id) {
  MessagePtr m = out.msg;
  uint8_t qos = out.qos;
  bool retain = out.retain;
  std::string ids = pack_ids(out.subscription_ids);
  issue([=](SqliteStore& st) {
    st.save_message(m);
    sqlite3_stmt* s = st.stmt(
        "INSERT OR REPLACE INTO queue(client_id, seq, msg_id, qos, retain, sub_ids, state, packet_id) VALUES(?,?,?,?,?,?,?,?)");
    bind_text(s, 1, client_id);
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(seq));
    sqlite3_bind_int64(s, 3, m ? static_cast<int64_t>(m->id) : 0);
    sqlite3_bind_int(s, 4, qos);
    sqlite3_bind_int(s, 5, retain ? 1 : 0);
    bind_blob(s, 6, ids);
    sqlite3_bind_int(s, 7, static_cast<int>(state));
    sqlite3_bind_int(s, 8, packet_id);
    sqlite3_step(s);
  });
}

void SqliteStore::outbound_deleted(const std::string& client_id, uint64_t seq) {
  issue([=](SqliteStore& st) {
    sqlite3_stmt* s = st.stmt("DELETE FROM queue WHERE client_id=? AND seq=?");
    bind_text(s, 1, client_id);
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(seq));
    sqlite3_step(s);
  });
}

void SqliteStore::incoming_qos2_saved(const std::string& client_id, uint16_t packet_id) {
  issue([=](SqliteStore& st) {
    sqlite3_stmt* s = st.stmt("INSERT OR IGNORE INTO incoming_qos2(client_id, packet_id) VALUES(?,?)");
    bind_text(s, 1, client_id);
    sqlite3_bind_int(s, 2, packet_id);
    sqlite3_step(s);
  });
}

void SqliteStore::incoming_qos2_deleted(const std::string& client_id, uint16_t packet_id) {
  issue([=](SqliteStore& st) {
    sqlite3_stmt* s = st.stmt("DELETE FROM incoming_qos2 WHERE client_id=? AND packet_id=?");
    bind_text(s, 1, client_id);
    sqlite3_bind_int(s, 2, packet_id);
    sqlite3_step(s);
  });
}

void SqliteStore::retained_saved(const MessagePtr& msg) {
  issue([=](SqliteStore& st) {
    st.save_message(msg);
    sqlite3_stmt* s = st.stmt("INSERT OR REPLACE INTO retained(topic, msg_id) VALUES(?,?)");
    bind_text(s, 1, msg->topic);
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(msg->id));
    sqlite3_step(s);
  });
}

void SqliteStore::retained_deleted(const std::string& topic) {
  issue([=](SqliteStore& st) {
    sqlite3_stmt* s = st.stmt("DELETE FROM retained WHERE topic=?");
    bind_text(s, 1, topic);
    sqlite3_step(s);
  });
}

void SqliteStore::held_saved(uint64_t seq, const MessagePtr& msg) {
  issue([=](SqliteStore& st) {
    st.save_message(msg);
    sqlite3_stmt* s = st.stmt("INSERT OR REPLACE INTO held(seq, msg_id) VALUES(?,?)");
    sqlite3_bind_int64(s, 1, static_cast<int64_t>(seq));
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(msg->id));
    sqlite3_step(s);
  });
}

void SqliteStore::held_deleted(uint64_t seq) {
  issue([=](SqliteStore& st) {
    sqlite3_stmt* s = st.stmt("DELETE FROM held WHERE seq=?");
    sqlite3_bind_int64(s, 1, static_cast<int64_t>(seq));
    sqlite3_step(s);
  });
}

void SqliteStore::will_saved(const std::string& client_id, const MessagePtr& msg, int64_t fire_wall_ms) {
  issue([=](SqliteStore& st) {
    st.save_message(msg);
    sqlite3_stmt* s = st.stmt("INSERT OR REPLACE INTO wills(client_id, msg_id, fire_at) VALUES(?,?,?)");
    bind_text(s, 1, client_id);
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(msg->id));
    sqlite3_bind_int64(s, 3, fire_wall_ms);
    sqlite3_step(s);
  });
}

void SqliteStore::will_deleted(const std::string& client_id) {
  issue([=](SqliteStore& st) {
    sqlite3_stmt* s = st.stmt("DELETE FROM wills WHERE client_id=?");
    bind_text(s, 1, client_id);
    sqlite3_step(s);
  });
}

}  // namespace musqratt::store
