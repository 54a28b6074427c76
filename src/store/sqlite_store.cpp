#include "store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

// Store format notes. The format number is kept in meta('format') from the file's creation
// and checked at every open: a file of another format is refused with a message, never read
// as if it were this one. A later version that changes what tables or columns mean raises
// kFormat and adds a reader (or an upgrade) for each older format instead of changing these.
//
//   format 1: messages(id, topic, payload, qos, retain, props, expires_at) shared by the
//             rows that refer to them: queue (per client and seq, with QoS 2 state),
//             retained (per topic), held (per seq), wills (per client); sessions,
//             subscriptions, incoming_qos2; meta. Properties are the MQTT 5 property
//             encoding of the PUBLISH; times are wall-clock milliseconds.
//
// Layout is not format: files created by later versions of format 1 use auto_vacuum =
// INCREMENTAL (so a full disk can be given space back) and a WITHOUT ROWID queue table (one
// b-tree instead of a table plus its primary-key index: 13 bytes less per queued message);
// older format-1 files keep their layout. The same statements read and write both.
constexpr const char* kSchema = R"SQL(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE messages(id INTEGER PRIMARY KEY, topic TEXT NOT NULL, payload BLOB NOT NULL,
  qos INTEGER NOT NULL, retain INTEGER NOT NULL, props BLOB, expires_at INTEGER);
CREATE TABLE sessions(client_id TEXT PRIMARY KEY, expiry INTEGER NOT NULL, disconnected_at INTEGER);
CREATE TABLE subscriptions(client_id TEXT NOT NULL, filter TEXT NOT NULL, options INTEGER NOT NULL,
  sub_id INTEGER NOT NULL, PRIMARY KEY(client_id, filter));
CREATE TABLE queue(client_id TEXT NOT NULL, seq INTEGER NOT NULL, msg_id INTEGER NOT NULL,
  qos INTEGER NOT NULL, retain INTEGER NOT NULL, sub_ids BLOB, state INTEGER NOT NULL, packet_id INTEGER NOT NULL,
  PRIMARY KEY(client_id, seq)) WITHOUT ROWID;
CREATE INDEX queue_msg ON queue(msg_id);
CREATE TABLE incoming_qos2(client_id TEXT NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY(client_id, packet_id));
CREATE TABLE retained(topic TEXT PRIMARY KEY, msg_id INTEGER NOT NULL);
CREATE TABLE held(seq INTEGER PRIMARY KEY, msg_id INTEGER NOT NULL);
CREATE TABLE wills(client_id TEXT PRIMARY KEY, msg_id INTEGER NOT NULL, fire_at INTEGER NOT NULL);
INSERT INTO meta(key, value) VALUES('format', '1');
)SQL";

// Indexes that let the garbage collector ask "is this message still referred to?" for one
// message at a time (a file of format 1 made before them gets them at open, when it can).
constexpr const char* kReferenceIndexes = R"SQL(
CREATE INDEX IF NOT EXISTS retained_msg ON retained(msg_id);
CREATE INDEX IF NOT EXISTS held_msg ON held(msg_id);
CREATE INDEX IF NOT EXISTS wills_msg ON wills(msg_id);
)SQL";

// Deletes message ?1 unless a row still refers to it.
constexpr const char* kCollectOne =
    "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM queue WHERE msg_id = ?1) "
    "AND NOT EXISTS (SELECT 1 FROM retained WHERE msg_id = ?1) AND NOT EXISTS (SELECT 1 FROM held WHERE msg_id = ?1) "
    "AND NOT EXISTS (SELECT 1 FROM wills WHERE msg_id = ?1)";
// Free pages returned to the filesystem per step (bounding the log it takes and the time),
// and free pages kept when the disk is not full.
constexpr int64_t kVacuumPagesPerStep = 2048;
constexpr int64_t kKeepFreePages = 1024;
// Messages checked per collection besides the candidates, walking the whole table over
// time: what a crash left unreferenced between a delete and its collection.
constexpr int kSweepPerCollection = 2000;

// A transaction stays below these, so the WAL it needs stays small (a full disk must still
// have room for one) and acknowledgements of a large batch start before its end.
constexpr size_t kMaxOpsPerTransaction = 4096;
constexpr size_t kMaxBytesPerTransaction = 2 << 20;
// The WAL is checkpointed into the database every this many pages (SQLite's default), and cut
// back to this size afterwards: what remains allocated is reused in place by later commits.
constexpr int kAutoCheckpointPages = 1000;
constexpr int64_t kWalSizeLimit = 4 << 20;

constexpr auto kRetryInterval = std::chrono::seconds(1);
// Below this much free space at start-up the reserve is released before SQLite opens.
constexpr uint64_t kRoomToOpen = 1 << 20;
// Writing resumes through the filesystem (rather than free pages inside the database) once
// it has this much free besides the reserve: room for the log to grow to its usual size, so
// that the store does not go back and forth at the edge of a full disk.
constexpr uint64_t kResumeMargin = static_cast<uint64_t>(kWalSizeLimit);
constexpr auto kFullLogInterval = std::chrono::seconds(30);

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

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

SqliteStore::SqliteStore(StoreOptions options)
    : options_(std::move(options)), reserve_(options_.dir + "/musqratt.db-reserve", options_.reserve_bytes) {}

SqliteStore::~SqliteStore() { close(); }

void SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw std::runtime_error("persistence: " + path_ + ": " + msg);
  }
}

int SqliteStore::exec_rc(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) last_error_ = sqlite3_errmsg(db_);
  return rc;
}

int64_t SqliteStore::pragma_int(const char* sql) {
  Query q = query(sql);
  return sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
}

SqliteStore::Query SqliteStore::query(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return Query(it->second);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string("persistence: ") + sqlite3_errmsg(db_));  // a bug, not a condition
  statements_[sql] = s;
  return Query(s);
}

void SqliteStore::create_or_check_schema(const std::string& path) {
  // The first read of the file: "file is not a database" shows here.
  int64_t objects = 0;
  {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM sqlite_master", -1, &s, nullptr) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
      std::string msg = sqlite3_errmsg(db_);
      if ((sqlite3_errcode(db_) & 0xff) == SQLITE_BUSY) msg += " (another broker has it open)";
      sqlite3_finalize(s);
      throw std::runtime_error("persistence: cannot read " + path + ": " + msg);
    }
    objects = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  if (objects == 0) {
    // A new store. auto_vacuum must be chosen before the first table exists.
    exec("PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL;");
    exec("BEGIN");
    exec(kSchema);
    exec(kReferenceIndexes);
    exec("COMMIT");
    return;
  }
  std::string format;
  {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = 'format'", -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
      format = col_text(s, 0);
    sqlite3_finalize(s);
  }
  if (format.empty())
    throw std::runtime_error("persistence: " + path + " is not a MusQraTT store (it has no format mark); move it away or choose another persistence_dir");
  if (format != std::to_string(kFormat))
    throw std::runtime_error("persistence: " + path + " is in store format " + format + ", which this version cannot read (it reads format " +
                             std::to_string(kFormat) + "); run the version that wrote it, or move the directory away to start empty");
  exec("PRAGMA journal_mode=WAL;");
  if (sqlite3_exec(db_, kReferenceIndexes, nullptr, nullptr, nullptr) != SQLITE_OK)
    LOG_WARN("persistence: cannot add indexes to %s (%s); garbage collection is slower until they are", path.c_str(),
             sqlite3_errmsg(db_));
}

broker::RestoredState SqliteStore::open() {
  try {
    return open_and_read();
  } catch (...) {
    // Let go of the file (and its lock): it is left exactly as it was found.
    for (auto& [sql, s] : statements_) sqlite3_finalize(s);
    statements_.clear();
    sqlite3_close(db_);
    db_ = nullptr;
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
    throw;
  }
}

broker::RestoredState SqliteStore::open_and_read() {
  if (mkdir(options_.dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error("persistence: cannot create " + options_.dir + ": " + strerror(errno));
  path_ = options_.dir + "/musqratt.db";
  // One broker per store: an flock() on a file of its own (closing a descriptor of the
  // database itself would drop SQLite's locks), held until close().
  std::string lock_path = options_.dir + "/musqratt.lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) throw std::runtime_error("persistence: cannot open " + lock_path + ": " + strerror(errno));
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
    throw std::runtime_error("persistence: " + options_.dir + " is in use (another broker has it open)");
  // On a full disk SQLite still needs a little room to open (its shared-memory index): the
  // reserve is there for that too.
  if (reserve_.filesystem_free() < kRoomToOpen) reserve_.release();
  if (sqlite3_open(path_.c_str(), &db_) != SQLITE_OK)
    throw std::runtime_error("persistence: cannot open " + path_ + ": " + sqlite3_errmsg(db_));
  sqlite3_extended_result_codes(db_, 1);
  create_or_check_schema(path_);
  // WAL + synchronous=FULL: a COMMIT returns only after the log is fsynced; a crash at any
  // moment leaves the last committed transaction intact and never a torn one.
  exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;");
  exec(("PRAGMA wal_autocheckpoint=" + std::to_string(kAutoCheckpointPages) + "; PRAGMA journal_size_limit=" +
        std::to_string(kWalSizeLimit) + ";").c_str());
  page_size_ = pragma_int("PRAGMA page_size");
  if (options_.max_bytes) {
    max_pages_ = std::max<int64_t>(1, static_cast<int64_t>(options_.max_bytes) / page_size_);
    exec(("PRAGMA max_page_count=" + std::to_string(max_pages_) + ";").c_str());
  }
  {
    Query check = query("PRAGMA quick_check");
    if (sqlite3_step(check) != SQLITE_ROW || col_text(check, 0) != "ok")
      throw std::runtime_error("persistence: " + path_ + " failed its integrity check");
  }
  auto t0 = std::chrono::steady_clock::now();
  broker::RestoredState r = read_all();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  LOG_INFO("persistence: opened %s (sync %s) and read it back in %lld ms", path_.c_str(), options_.sync.c_str(),
           static_cast<long long>(ms));
  if (!reserve_.ensure()) {
    // Serve what is stored; write again once there is room.
    enter_disk_full("no room for the reserve at start-up");
  }
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
  m->created = util::now();  // read back now: its wait is counted from here
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

int SqliteStore::read_queued(const std::string& client_id, uint64_t from_seq, uint32_t limit,
                             std::vector<broker::RestoredOutbound>& rows) {
  static const std::string sql = std::string(kOutboundSelect) +
                                 "WHERE q.client_id = ? AND q.state = 0 AND q.seq >= ? ORDER BY q.seq LIMIT ?";
  Query s = query(sql.c_str());
  bind_text(s, 1, client_id);
  sqlite3_bind_int64(s, 2, static_cast<int64_t>(from_seq));
  sqlite3_bind_int64(s, 3, limit ? limit : -1);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    broker::RestoredOutbound o = read_outbound(s);
    if (o.msg) rows.push_back(std::move(o));
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

// Reads back sessions with their in-flight messages and at most memory_queue_limit queued ones
// each (the rest stay on disk and are counted), retained and held messages and wills. Nothing
// reads the whole messages table: start-up time and memory do not grow with the disk queue.
broker::RestoredState SqliteStore::read_all() {
  broker::RestoredState r;
  int64_t wall_now = now_wall_ms();
  r.max_message_id = static_cast<uint64_t>(pragma_int("SELECT MAX(id) FROM messages"));
  std::unordered_map<std::string, size_t> index;
  {
    Query s = query("SELECT client_id, expiry, disconnected_at FROM sessions");
    while (sqlite3_step(s) == SQLITE_ROW) {
      broker::RestoredSession rs;
      rs.client_id = col_text(s, 0);
      rs.expiry = static_cast<uint32_t>(sqlite3_column_int64(s, 1));
      if (sqlite3_column_type(s, 2) != SQLITE_NULL) rs.disconnected_wall_ms = sqlite3_column_int64(s, 2);
      else rs.disconnected_wall_ms = wall_now;  // it was online when the broker stopped
      index[rs.client_id] = r.sessions.size();
      r.sessions.push_back(std::move(rs));
    }
  }
  {
    Query s = query("SELECT client_id, filter, options, sub_id FROM subscriptions");
    while (sqlite3_step(s) == SQLITE_ROW) {
      auto it = index.find(col_text(s, 0));
      if (it == index.end()) continue;
      r.sessions[it->second].subscriptions.push_back(
          {col_text(s, 1), {unpack_options(sqlite3_column_int(s, 2)), static_cast<uint32_t>(sqlite3_column_int64(s, 3))}});
    }
  }
  static const std::string inflight_sql = std::string(kOutboundSelect) + "WHERE q.client_id = ? AND q.state != 0 ORDER BY q.seq";
  for (broker::RestoredSession& rs : r.sessions) {
    {
      Query s = query(inflight_sql.c_str());
      bind_text(s, 1, rs.client_id);
      while (sqlite3_step(s) == SQLITE_ROW) {
        broker::RestoredOutbound o = read_outbound(s);
        if (!o.msg && o.state != OutboundState::AwaitPubcomp) continue;
        rs.outbound.push_back(std::move(o));
      }
    }
    std::vector<broker::RestoredOutbound> first_page;
    if (int rc = read_queued(rs.client_id, 0, options_.memory_queue_limit, first_page); rc != SQLITE_OK)
      throw std::runtime_error("persistence: reading " + path_ + ": " + sqlite3_errstr(rc));
    for (broker::RestoredOutbound& o : first_page) rs.outbound.push_back(std::move(o));
    if (options_.memory_queue_limit) {  // without a limit the whole queue was read above
      uint64_t last_in_memory = 0;
      for (const auto& o : rs.outbound)
        if (o.state == OutboundState::Queued) last_in_memory = o.seq;
      // length() of a blob reads only its header, not the payload.
      Query s = query("SELECT COUNT(*), SUM(length(m.payload)), MIN(q.seq) FROM queue q JOIN messages m ON m.id = q.msg_id "
                      "WHERE q.client_id = ? AND q.state = 0 AND q.seq > ?");
      bind_text(s, 1, rs.client_id);
      sqlite3_bind_int64(s, 2, static_cast<int64_t>(last_in_memory));
      if (sqlite3_step(s) == SQLITE_ROW) {
        rs.queued_on_disk = static_cast<uint32_t>(sqlite3_column_int64(s, 0));
        rs.queued_on_disk_bytes = static_cast<uint64_t>(sqlite3_column_int64(s, 1));
        rs.disk_from_seq = static_cast<uint64_t>(sqlite3_column_int64(s, 2));
      }
    }
    Query s = query("SELECT MAX(seq) FROM queue WHERE client_id = ?");
    bind_text(s, 1, rs.client_id);
    if (sqlite3_step(s) == SQLITE_ROW) rs.max_seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
  }
  {
    Query s = query("SELECT client_id, packet_id FROM incoming_qos2");
    while (sqlite3_step(s) == SQLITE_ROW) {
      auto it = index.find(col_text(s, 0));
      if (it != index.end()) r.sessions[it->second].incoming_qos2.push_back(static_cast<uint16_t>(sqlite3_column_int(s, 1)));
    }
  }
  static const std::string retained_sql = std::string("SELECT ") + kMessageColumns + " FROM retained r JOIN messages m ON m.id = r.msg_id";
  {
    Query s = query(retained_sql.c_str());
    while (sqlite3_step(s) == SQLITE_ROW) r.retained.push_back(read_message(s, 0));
  }
  static const std::string held_sql = std::string("SELECT h.seq, ") + kMessageColumns + " FROM held h JOIN messages m ON m.id = h.msg_id ORDER BY h.seq";
  {
    Query s = query(held_sql.c_str());
    while (sqlite3_step(s) == SQLITE_ROW) r.held.push_back({static_cast<uint64_t>(sqlite3_column_int64(s, 0)), read_message(s, 1)});
  }
  static const std::string wills_sql = std::string("SELECT w.client_id, w.fire_at, ") + kMessageColumns + " FROM wills w JOIN messages m ON m.id = w.msg_id";
  {
    Query s = query(wills_sql.c_str());
    while (sqlite3_step(s) == SQLITE_ROW) r.wills.push_back({col_text(s, 0), {read_message(s, 2), sqlite3_column_int64(s, 1)}});
  }
  return r;
}

void SqliteStore::load_queued(const std::string& client_id, uint64_t from_seq, uint32_t limit,
                              std::function<void(std::vector<broker::RestoredOutbound>)> done) {
  // An operation like the writes: it runs after everything issued before it, in the writer's
  // transaction, so it sees every row saved so far.
  issue(op::LoadQueued{client_id, from_seq, limit, std::move(done)});
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
  if (lock_fd_ >= 0) ::close(lock_fd_);  // after SQLite: the store is free for another broker
  lock_fd_ = -1;
}

broker::StoreStatus SqliteStore::status() const {
  return {disk_full_.load(std::memory_order_relaxed), refused_.load(std::memory_order_relaxed),
          waiting_.load(std::memory_order_relaxed)};
}

// ---------------------------------------------------------------- the writer thread

void SqliteStore::issue(OpBody body) {
  std::lock_guard lock(mu_);
  Op op;
  op.body = std::move(body);
  op.number = ++issued_;
  pending_.push_back(std::move(op));
  if (pending_.size() == 1) {
    first_pending_at_ = Clock::now();
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

void SqliteStore::publish_committed(uint64_t upto) {
  if (upto <= committed_.load(std::memory_order_relaxed)) return;
  committed_.store(upto, std::memory_order_release);
  std::vector<broker::Link> ready;
  {
    std::lock_guard lock(mu_);
    auto end = waiters_.upper_bound(upto);
    for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(it->second);
    waiters_.erase(waiters_.begin(), end);
  }
  for (const auto& l : ready) l.waker->wake(l.token);
}

void SqliteStore::fail(const char* what) {
  // Not a matter of space (that is handled): a broken file or device. Acknowledging what is
  // not durable would break the guarantee, and retrying cannot help: stop here.
  LOG_ERROR("persistence: %s failed: %s; cannot continue without durable storage", what, last_error_.c_str());
  std::abort();
}

SqliteStore::Outcome SqliteStore::classify(int rc) {
  if (rc == SQLITE_OK) return Outcome::Ok;
  last_error_ = sqlite3_errstr(rc);
  if ((rc & 0xff) == SQLITE_FULL) return Outcome::NoSpace;
  if ((rc & 0xff) == SQLITE_IOERR) {
    int e = sqlite3_system_errno(db_);
    if (e == ENOSPC || e == EDQUOT) return Outcome::NoSpace;
    last_error_ += std::string(" (") + strerror(e) + ")";
  }
  return Outcome::Failed;
}

SqliteStore::Outcome SqliteStore::transact(const std::vector<Op*>& ops) {
  int rc = exec_rc("BEGIN");
  for (size_t i = 0; rc == SQLITE_OK && i < ops.size(); ++i) rc = apply(*ops[i]);
  if (rc == SQLITE_OK) rc = exec_rc("COMMIT");
  Outcome out = classify(rc);  // before ROLLBACK changes the error state
  if (out != Outcome::Ok) {
    // SQLite may already have rolled back on SQLITE_FULL; if not, do it now.
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    // Message rows inserted by the rolled-back transaction are gone: insert them again.
    saved_messages_.clear();
  }
  return out;
}

void SqliteStore::commit_batch(std::vector<Op>& batch) {
  std::vector<Op*> chunk;
  for (size_t i = 0; i < batch.size();) {
    chunk.clear();
    size_t bytes = 0;
    size_t j = i;
    while (j < batch.size() && (chunk.empty() || (chunk.size() < kMaxOpsPerTransaction && bytes < kMaxBytesPerTransaction))) {
      bytes += write_bytes(batch[j].body);
      chunk.push_back(&batch[j++]);
    }
    Outcome out = transact(chunk);
    if (out == Outcome::Failed) fail("a write");
    if (out == Outcome::NoSpace) {
      // Nothing from this chunk on is durable: keep it for later, in order (reads that ran
      // are done and not kept).
      uint64_t refused = 0;
      for (size_t k = i; k < batch.size(); ++k) {
        if (batch[k].done) continue;
        if (!std::holds_alternative<op::LoadQueued>(batch[k].body)) ++refused;
        backlog_.append(std::move(batch[k]));
      }
      refused_.fetch_add(refused, std::memory_order_relaxed);
      enter_disk_full(last_error_.c_str());
      return;
    }
    publish_committed(batch[j - 1].number);
    i = j;
  }
}

void SqliteStore::enter_disk_full(const char* why) {
  auto now = Clock::now();
  bool was_full = disk_full_.exchange(true, std::memory_order_acq_rel);
  if (!was_full) {
    full_since_ = now;
    // Said once per interval, however often the disk fills and frees again meanwhile.
    bool quiet = last_full_report_ != Clock::time_point{} && now - last_full_report_ < kFullLogInterval;
    next_full_log_ = now + kFullLogInterval;
    if (!quiet) last_full_report_ = now;
    if (!quiet) LOG_ERROR("persistence: cannot write to %s (%s): holding back %zu operation(s) and the acknowledgements of "
              "QoS 1/2 messages that wait for them; stored messages are still delivered; retrying every %lld s",
              options_.dir.c_str(), why, backlog_.size(), static_cast<long long>(kRetryInterval.count()));
  }
  next_hoist_ = now;
  next_retry_ = now + kRetryInterval;
  // The reserve's space lets SQLite finish its checkpoint and log the deletes that free room.
  if (reserve_.present()) reserve_.release();
  if (db_) checkpoint();
  waiting_.store(backlog_.size(), std::memory_order_relaxed);
}

void SqliteStore::checkpoint() {
  int log = 0, done = 0;
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
  if (rc != SQLITE_OK) LOG_DEBUG("persistence: checkpoint: %s", sqlite3_errstr(rc));
}

void SqliteStore::work_while_full(Clock::time_point now) {
  std::vector<Op*> ops;
  if (now >= next_hoist_) {
    // Deletes (they free space) and reads (a session's next page) that need not wait for the
    // writes ahead of them.
    std::vector<Backlog::List::iterator> its = backlog_.hoistable();
    for (auto it : its) ops.push_back(&*it);
    if (!ops.empty()) {
      Outcome out = transact(ops);
      if (out == Outcome::Failed) fail("a delete");
      bool deleted = false, read = false;
      for (auto it : its) {
        bool is_read = std::holds_alternative<op::LoadQueued>(it->body);
        if (is_read ? !it->done : out != Outcome::Ok) continue;
        (is_read ? read : deleted) = true;
        backlog_.erase(it);
      }
      LOG_DEBUG("persistence: full disk: %zu operation(s) could go ahead (%s), %zu still waiting", its.size(),
                out == Outcome::Ok ? "written" : last_error_.c_str(), backlog_.size());
      if (deleted) {
        give_back_space(0);
        checkpoint();
        next_retry_ = std::min(next_retry_, now);  // room may have come back: try at once
      }
      // Again at once while it gets somewhere; otherwise with the retries.
      next_hoist_ = deleted || read ? now : now + kRetryInterval;
    }
  }
  if (now >= next_retry_) {
    next_retry_ = now + kRetryInterval;
    // Room again: the database has free pages enough for what waits, or (unless it is at its
    // own size limit) the filesystem has the reserve's worth free. Free pages count because
    // an old store without incremental vacuum cannot give them back to the filesystem.
    int64_t free_pages = pragma_int("PRAGMA freelist_count");
    int64_t need_pages = static_cast<int64_t>(2 * backlog_.write_bytes()) / page_size_ + 16;
    bool at_cap = max_pages_ && pragma_int("PRAGMA page_count") + need_pages > max_pages_;
    bool fs_room = !at_cap && reserve_.ensure() && reserve_.filesystem_free() >= kResumeMargin;
    bool room = free_pages >= need_pages || fs_room;
    if (room) {
      ops.clear();
      for (Op& op : backlog_.ops()) {
        op.overlay.clear();  // in order now: reads see everything before them in the database
        if (!op.done) ops.push_back(&op);
      }
      Outcome out = transact(ops);
      if (out == Outcome::Failed) fail("a write");
      if (out == Outcome::Ok) {
        LOG_INFO("persistence: writing again after %.1f s with a full disk; %zu operation(s) that waited are durable",
                 seconds_since(full_since_), backlog_.size());
        backlog_.clear();
        disk_full_.store(false, std::memory_order_release);
      } else {
        for (auto it = backlog_.ops().begin(); it != backlog_.ops().end();) {
          auto cur = it++;
          if (cur->done) backlog_.erase(cur);
        }
        checkpoint();
      }
    }
    // While the disk is full, the reserve's space belongs to the store's deletes and
    // checkpoints; it was only taken back to see whether the filesystem has room again.
    if (disk_full_.load(std::memory_order_relaxed) && reserve_.present()) reserve_.release();
  }
  if (disk_full_.load(std::memory_order_relaxed) && now >= next_full_log_) {
    next_full_log_ = now + kFullLogInterval;
    last_full_report_ = now;
    LOG_WARN("persistence: disk still full after %.0f s: %zu operation(s) waiting, %llu held back since start",
             seconds_since(full_since_), backlog_.size(),
             static_cast<unsigned long long>(refused_.load(std::memory_order_relaxed)));
  }
}

void SqliteStore::writer_loop() {
  std::vector<Op> batch;
  auto last_gc = Clock::now();
  while (true) {
    bool full = disk_full_.load(std::memory_order_relaxed);
    Clock::time_point submitted;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, full ? std::chrono::milliseconds(200) : std::chrono::milliseconds(1000),
                   [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty() && stopping_) break;
      if (options_.sync == "batch" && !stopping_ && !full) {
        // Let a batch gather: fewer, larger transactions, at the cost of acknowledgement latency.
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(options_.sync_interval_ms));
        lock.lock();
      }
      batch.swap(pending_);
      taken_ = issued_;
      submitted = first_pending_at_;
    }
    if (!full) {
      commit_batch(batch);
      if (!batch.empty() && !disk_full_.load(std::memory_order_relaxed)) commit_latency_.record(Clock::now() - submitted);
    } else {
      uint64_t refused = 0;
      for (Op& op : batch) {
        if (!std::holds_alternative<op::LoadQueued>(op.body)) ++refused;
        backlog_.append(std::move(op));
      }
      refused_.fetch_add(refused, std::memory_order_relaxed);
    }
    batch.clear();
    if (disk_full_.load(std::memory_order_relaxed)) work_while_full(Clock::now());
    // The count of waiting operations first: publish_committed's release store then carries it,
    // so whoever sees an operation committed also sees it no longer counted as waiting.
    waiting_.store(backlog_.size(), std::memory_order_relaxed);
    // Every operation up to taken_ is durable, except those waiting and what they hold.
    publish_committed(backlog_.empty() ? taken_ : std::min(taken_, backlog_.lowest_hold() - 1));
    if (Clock::now() - last_gc > std::chrono::seconds(5)) {
      collect_garbage();
      last_gc = Clock::now();
    }
  }
  collect_garbage();  // leave no unreferenced message behind a clean stop
  if (!backlog_.empty()) {
    work_while_full(Clock::now() + kRetryInterval);  // one last try
    if (!backlog_.empty())
      LOG_ERROR("persistence: stopping with a full disk: %zu operation(s) were never written (none of them was acknowledged)",
                backlog_.size());
  }
}

// Messages are shared by the rows that refer to them. Rather than scanning the whole table
// (seconds with a million stored), the collector checks the messages whose last reference may
// have gone (every delete returns its msg_id) and a slice of the table, one at a time through
// the msg_id indexes.
void SqliteStore::collect_garbage() {
  int rc = exec_rc("BEGIN");
  int64_t swept_to = gc_cursor_;
  {
    Query one = query(kCollectOne);
    for (size_t i = 0; rc == SQLITE_OK && i < gc_candidates_.size(); ++i) {
      sqlite3_bind_int64(one, 1, gc_candidates_[i]);
      rc = one.run();
      sqlite3_reset(one);
    }
  }
  if (rc == SQLITE_OK) {
    std::vector<int64_t> slice;
    {
      Query ids = query("SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?");
      sqlite3_bind_int64(ids, 1, gc_cursor_);
      sqlite3_bind_int(ids, 2, kSweepPerCollection);
      while (sqlite3_step(ids) == SQLITE_ROW) slice.push_back(sqlite3_column_int64(ids, 0));
    }
    swept_to = slice.size() < static_cast<size_t>(kSweepPerCollection) ? 0 : slice.back();
    Query one = query(kCollectOne);
    for (size_t i = 0; rc == SQLITE_OK && i < slice.size(); ++i) {
      sqlite3_bind_int64(one, 1, slice[i]);
      rc = one.run();
      sqlite3_reset(one);
    }
  }
  if (rc == SQLITE_OK) rc = exec_rc("COMMIT");
  Outcome out = classify(rc);
  if (out != Outcome::Ok) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    if (out == Outcome::Failed) LOG_WARN("persistence: garbage collection: %s", last_error_.c_str());
    saved_messages_.clear();
    return;  // the candidates stay for the next time
  }
  gc_candidates_.clear();
  gc_cursor_ = swept_to;
  // After a backlog has drained, give most of its pages back to the filesystem, a slice at a
  // time; a few free pages are kept for the next writes.
  give_back_space(kKeepFreePages);
  // A message collected here may be saved again by a later operation: insert it anew.
  saved_messages_.clear();
  if (!disk_full_.load(std::memory_order_relaxed) && !reserve_.present()) reserve_.ensure();
}

int SqliteStore::save_message(const MessagePtr& m) {
  if (!m || saved_messages_.contains(m->id)) return SQLITE_OK;
  Query s = query("INSERT OR IGNORE INTO messages(id, topic, payload, qos, retain, props, expires_at) VALUES(?,?,?,?,?,?,?)");
  sqlite3_bind_int64(s, 1, static_cast<int64_t>(m->id));
  bind_text(s, 2, m->topic);
  bind_blob(s, 3, m->payload);
  sqlite3_bind_int(s, 4, m->qos);
  sqlite3_bind_int(s, 5, m->retain ? 1 : 0);
  std::string props;
  if (m->properties) protocol::encode_properties(props, *m->properties);
  bind_blob(s, 6, props);
  if (m->expires_at) sqlite3_bind_int64(s, 7, broker::wall_ms_from(*m->expires_at));
  int rc = s.run();
  if (rc == SQLITE_OK) saved_messages_.insert(m->id);
  return rc;
}

/// The page a read issued after `waiting` would have seen: the rows they change replaced by
/// what they make of them (a queued message written, or nothing), in seq order, cut to the
/// read's limit. `rows` holds the database's rows from the read's start, `limit + waiting`
/// of them (or all): enough that the rows they hide cannot shorten the page.
void SqliteStore::overlay_page(const std::vector<const Op*>& waiting, const op::LoadQueued& read,
                               std::vector<broker::RestoredOutbound>& rows) {
  std::map<uint64_t, const Op*> latest;  // seq -> the last waiting operation on that row
  for (const Op* w : waiting) {
    if (const auto* save = std::get_if<op::OutboundSave>(&w->body)) latest[save->seq] = w;
    else if (const auto* del = std::get_if<op::OutboundDelete>(&w->body)) latest[del->seq] = w;
  }
  std::erase_if(rows, [&](const broker::RestoredOutbound& r) { return latest.contains(r.seq); });
  for (const auto& [seq, w] : latest) {
    const auto* save = std::get_if<op::OutboundSave>(&w->body);
    if (!save || seq < read.from_seq || save->state != OutboundState::Queued || !save->msg) continue;
    broker::RestoredOutbound o;
    o.seq = seq;
    o.msg = save->msg;
    o.qos = save->qos;
    o.retain = save->retain;
    o.subscription_ids = unpack_ids(save->subscription_ids.data(), static_cast<int>(save->subscription_ids.size()));
    o.state = save->state;
    o.packet_id = save->packet_id;
    rows.push_back(std::move(o));
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.seq < b.seq; });
  if (read.limit && rows.size() > read.limit) rows.resize(read.limit);
}

void SqliteStore::give_back_space(int64_t keep_pages) {
  if (pragma_int("PRAGMA auto_vacuum") != 2) return;  // a store made before incremental vacuum
  int64_t free_pages = pragma_int("PRAGMA freelist_count");
  if (free_pages <= keep_pages) return;
  int64_t n = std::min<int64_t>(free_pages - keep_pages, kVacuumPagesPerStep);
  // A write like any other: on a full disk it may fail, and is tried again later.
  exec_rc(("PRAGMA incremental_vacuum(" + std::to_string(n) + ")").c_str());
}

int SqliteStore::run_collecting(Query& q) {
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW)
    if (sqlite3_column_count(q) > 0) gc_candidates_.push_back(sqlite3_column_int64(q, 0));
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int SqliteStore::forget_previous(const char* select_sql, const std::string& key, int64_t int_key) {
  Query q = query(select_sql);
  if (!key.empty()) bind_text(q, 1, key);
  else sqlite3_bind_int64(q, 1, int_key);
  return run_collecting(q);
}

// ---------------------------------------------------------------- applying operations

int SqliteStore::apply(Op& op) {
  return std::visit(
      Overloaded{
          [&](const op::SessionSave& o) {
            Query s = query("INSERT OR REPLACE INTO sessions(client_id, expiry, disconnected_at) VALUES(?,?,?)");
            bind_text(s, 1, o.client);
            sqlite3_bind_int64(s, 2, o.expiry);
            if (o.disconnected_at) sqlite3_bind_int64(s, 3, *o.disconnected_at);
            return s.run();
          },
          [&](const op::SessionDelete& o) {
            for (const char* sql : {"DELETE FROM sessions WHERE client_id=?", "DELETE FROM subscriptions WHERE client_id=?",
                                    "DELETE FROM queue WHERE client_id=? RETURNING msg_id",
                                    "DELETE FROM incoming_qos2 WHERE client_id=?"}) {
              Query s = query(sql);
              bind_text(s, 1, o.client);
              if (int rc = run_collecting(s); rc != SQLITE_OK) return rc;
            }
            return SQLITE_OK;
          },
          [&](const op::SubscriptionSave& o) {
            Query s = query("INSERT OR REPLACE INTO subscriptions(client_id, filter, options, sub_id) VALUES(?,?,?,?)");
            bind_text(s, 1, o.client);
            bind_text(s, 2, o.filter);
            sqlite3_bind_int(s, 3, o.options);
            sqlite3_bind_int64(s, 4, o.subscription_id);
            return s.run();
          },
          [&](const op::SubscriptionDelete& o) {
            Query s = query("DELETE FROM subscriptions WHERE client_id=? AND filter=?");
            bind_text(s, 1, o.client);
            bind_text(s, 2, o.filter);
            return s.run();
          },
          [&](const op::OutboundSave& o) {
            if (int rc = save_message(o.msg); rc != SQLITE_OK) return rc;
            Query s = query(
                "INSERT OR REPLACE INTO queue(client_id, seq, msg_id, qos, retain, sub_ids, state, packet_id) VALUES(?,?,?,?,?,?,?,?)");
            bind_text(s, 1, o.client);
            sqlite3_bind_int64(s, 2, static_cast<int64_t>(o.seq));
            sqlite3_bind_int64(s, 3, o.msg ? static_cast<int64_t>(o.msg->id) : 0);
            sqlite3_bind_int(s, 4, o.qos);
            sqlite3_bind_int(s, 5, o.retain ? 1 : 0);
            bind_blob(s, 6, o.subscription_ids);
            sqlite3_bind_int(s, 7, static_cast<int>(o.state));
            sqlite3_bind_int(s, 8, o.packet_id);
            return s.run();
          },
          [&](const op::OutboundDelete& o) {
            Query s = query("DELETE FROM queue WHERE client_id=? AND seq=? RETURNING msg_id");
            bind_text(s, 1, o.client);
            sqlite3_bind_int64(s, 2, static_cast<int64_t>(o.seq));
            return run_collecting(s);
          },
          [&](const op::Qos2Save& o) {
            Query s = query("INSERT OR IGNORE INTO incoming_qos2(client_id, packet_id) VALUES(?,?)");
            bind_text(s, 1, o.client);
            sqlite3_bind_int(s, 2, o.packet_id);
            return s.run();
          },
          [&](const op::Qos2Delete& o) {
            Query s = query("DELETE FROM incoming_qos2 WHERE client_id=? AND packet_id=?");
            bind_text(s, 1, o.client);
            sqlite3_bind_int(s, 2, o.packet_id);
            return s.run();
          },
          [&](const op::RetainedSave& o) {
            if (int rc = save_message(o.msg); rc != SQLITE_OK) return rc;
            if (int rc = forget_previous("SELECT msg_id FROM retained WHERE topic=?", o.msg->topic, 0); rc != SQLITE_OK)
              return rc;
            Query s = query("INSERT OR REPLACE INTO retained(topic, msg_id) VALUES(?,?)");
            bind_text(s, 1, o.msg->topic);
            sqlite3_bind_int64(s, 2, static_cast<int64_t>(o.msg->id));
            return s.run();
          },
          [&](const op::RetainedDelete& o) {
            Query s = query("DELETE FROM retained WHERE topic=? RETURNING msg_id");
            bind_text(s, 1, o.topic);
            return run_collecting(s);
          },
          [&](const op::HeldSave& o) {
            if (int rc = save_message(o.msg); rc != SQLITE_OK) return rc;
            if (int rc = forget_previous("SELECT msg_id FROM held WHERE seq=?", {}, static_cast<int64_t>(o.seq)); rc != SQLITE_OK)
              return rc;
            Query s = query("INSERT OR REPLACE INTO held(seq, msg_id) VALUES(?,?)");
            sqlite3_bind_int64(s, 1, static_cast<int64_t>(o.seq));
            sqlite3_bind_int64(s, 2, static_cast<int64_t>(o.msg->id));
            return s.run();
          },
          [&](const op::HeldDelete& o) {
            Query s = query("DELETE FROM held WHERE seq=? RETURNING msg_id");
            sqlite3_bind_int64(s, 1, static_cast<int64_t>(o.seq));
            return run_collecting(s);
          },
          [&](const op::WillSave& o) {
            if (int rc = save_message(o.msg); rc != SQLITE_OK) return rc;
            if (int rc = forget_previous("SELECT msg_id FROM wills WHERE client_id=?", o.client, 0); rc != SQLITE_OK)
              return rc;
            Query s = query("INSERT OR REPLACE INTO wills(client_id, msg_id, fire_at) VALUES(?,?,?)");
            bind_text(s, 1, o.client);
            sqlite3_bind_int64(s, 2, static_cast<int64_t>(o.msg->id));
            sqlite3_bind_int64(s, 3, o.fire_at);
            return s.run();
          },
          [&](const op::WillDelete& o) {
            Query s = query("DELETE FROM wills WHERE client_id=? RETURNING msg_id");
            bind_text(s, 1, o.client);
            return run_collecting(s);
          },
          [&](op::LoadQueued& o) {
            if (op.done) return SQLITE_OK;
            std::vector<broker::RestoredOutbound> rows;
            // Ahead of waiting changes to this queue, read as many more rows as they could hide.
            uint32_t limit = o.limit ? o.limit + static_cast<uint32_t>(op.overlay.size()) : 0;
            if (int rc = read_queued(o.client, o.from_seq, limit, rows); rc != SQLITE_OK) return rc;
            if (!op.overlay.empty()) overlay_page(op.overlay, o, rows);
            op.done = true;  // handed over once, whatever becomes of this transaction
            o.done(std::move(rows));
            return SQLITE_OK;
          },
      },
      op.body);
}

// ---------------------------------------------------------------- operations

void SqliteStore::session_saved(const std::string& client_id, uint32_t expiry, std::optional<int64_t> at) {
  issue(op::SessionSave{client_id, expiry, at});
}

void SqliteStore::session_deleted(const std::string& client_id) { issue(op::SessionDelete{client_id}); }

void SqliteStore::subscription_saved(const std::string& client_id, const std::string& filter,
                                     const protocol::SubscribeOptions& options, uint32_t sub_id) {
  issue(op::SubscriptionSave{client_id, filter, pack_options(options), sub_id});
}

void SqliteStore::subscription_deleted(const std::string& client_id, const std::string& filter) {
  issue(op::SubscriptionDelete{client_id, filter});
}

void SqliteStore::outbound_saved(const std::string& client_id, uint64_t seq, const broker::Outbound& out,
                                 OutboundState state, uint16_t packet_id) {
  issue(op::OutboundSave{client_id, seq, out.msg, out.qos, out.retain, pack_ids(out.subscription_ids), state, packet_id});
}

void SqliteStore::outbound_deleted(const std::string& client_id, uint64_t seq) {
  issue(op::OutboundDelete{client_id, seq});
}

void SqliteStore::incoming_qos2_saved(const std::string& client_id, uint16_t packet_id) {
  issue(op::Qos2Save{client_id, packet_id});
}

void SqliteStore::incoming_qos2_deleted(const std::string& client_id, uint16_t packet_id) {
  issue(op::Qos2Delete{client_id, packet_id});
}

void SqliteStore::retained_saved(const MessagePtr& msg) { issue(op::RetainedSave{msg}); }

void SqliteStore::retained_deleted(const std::string& topic) { issue(op::RetainedDelete{topic}); }

void SqliteStore::held_saved(uint64_t seq, const MessagePtr& msg) { issue(op::HeldSave{seq, msg}); }

void SqliteStore::held_deleted(uint64_t seq) { issue(op::HeldDelete{seq}); }

void SqliteStore::will_saved(const std::string& client_id, const MessagePtr& msg, int64_t fire_wall_ms) {
  issue(op::WillSave{client_id, msg, fire_wall_ms});
}

void SqliteStore::will_deleted(const std::string& client_id) { issue(op::WillDelete{client_id}); }

}  // namespace musqratt::store
