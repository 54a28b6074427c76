#include "store_tools.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

namespace musqratt::cli {
namespace {

namespace fs = std::filesystem;

int usage() {
  fprintf(stderr,
          "usage: musqratt-cli store backup DIR DEST   copy the database of persistence_dir DIR to DEST\n"
          "                                            (a file, or a directory to put musqratt.db in)\n"
          "       musqratt-cli store check DIR         check the database's integrity\n"
          "  Both only read DIR/musqratt.db and may run while the broker runs.\n");
  return 1;
}

std::string database_of(const std::string& dir) {
  fs::path p(dir);
  return fs::is_directory(p) ? (p / "musqratt.db").string() : p.string();
}

/// A read-only connection to the broker's database. This process never writes the database
/// file (no checkpoint, no journal recovery). While the broker runs, a WAL reader shares the
/// broker's -wal and -shm files (the WAL index is how readers and the writer agree on a
/// snapshot). When neither exists (the broker closed the database cleanly), the file is opened
/// immutable, so no -wal or -shm file is created; should SQLite still create one, it is given
/// the database's owner, so the broker (running as its own user) can open it later.
class ReadOnlyDb {
 public:
  explicit ReadOnlyDb(const std::string& path) : path_(path) {
    if (!fs::exists(path)) {
      error_ = path + ": no such database";
      return;
    }
    struct stat st{};
    ::stat(path.c_str(), &st);
    owner_ = st.st_uid;
    group_ = st.st_gid;
    for (const char* suffix : {"-wal", "-shm"}) had_[suffix[1] == 'w'] = fs::exists(path + suffix);
    const bool quiescent = !had_[0] && !had_[1];
    std::string uri = "file:" + encode(path) + (quiescent ? "?immutable=1" : "?mode=ro");
    if (sqlite3_open_v2(uri.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr) != SQLITE_OK) {
      error_ = path + ": " + (db_ ? sqlite3_errmsg(db_) : "cannot open");
      sqlite3_close(db_);
      db_ = nullptr;
      return;
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~ReadOnlyDb() {
    sqlite3_close(db_);
    for (const char* suffix : {"-wal", "-shm"}) {
      const std::string f = path_ + suffix;
      // Fails unless root or the owner; then the file is ours, as is the broker's.
      if (!had_[suffix[1] == 'w'] && fs::exists(f)) (void)!::chown(f.c_str(), owner_, group_);
    }
  }
  sqlite3* get() const { return db_; }
  const std::string& error() const { return error_; }

 private:
  /// Percent-encodes what a URI path may not hold.
  static std::string encode(const std::string& p) {
    std::string out;
    for (unsigned char c : p) {
      if (c == '%' || c == '?' || c == '#') {
        char buf[4];
        snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    return out;
  }
  std::string path_, error_;
  sqlite3* db_ = nullptr;
  uid_t owner_ = 0;
  gid_t group_ = 0;
  bool had_[2] = {false, false};  // [0] -shm, [1] -wal
};

/// "ok", or the problems PRAGMA integrity_check lists.
std::string integrity(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) != SQLITE_OK) return sqlite3_errmsg(db);
  std::string out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (!out.empty()) out += "\n";
    out += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  if (rc != SQLITE_DONE) out += (out.empty() ? "" : "\n") + std::string(sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return out;
}

long long scalar(sqlite3* db, const char* sql) {
  sqlite3_stmt* st = nullptr;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

int check(const std::string& dir) {
  const std::string path = database_of(dir);
  std::string result;
  long long pages = 0, page_size = 0;
  {
    ReadOnlyDb db(path);
    if (!db.get()) {
      fprintf(stderr, "musqratt-cli: %s\n", db.error().c_str());
      return 1;
    }
    result = integrity(db.get());
    pages = scalar(db.get(), "PRAGMA page_count");
    page_size = scalar(db.get(), "PRAGMA page_size");
  }
  if (result != "ok") {
    fprintf(stderr, "musqratt-cli: %s: integrity check failed:\n%s\n", path.c_str(), result.c_str());
    return 1;
  }
  printf("%s: ok (%lld pages of %lld bytes)\n", path.c_str(), pages, page_size);
  return 0;
}

bool fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

int backup(const std::string& dir, std::string dest) {
  const std::string path = database_of(dir);
  if (fs::is_directory(dest)) dest = (fs::path(dest) / "musqratt.db").string();
  if (fs::exists(dest) && fs::equivalent(dest, path)) {
    fprintf(stderr, "musqratt-cli: %s is the database itself\n", dest.c_str());
    return 1;
  }
  ReadOnlyDb source(path);
  sqlite3* src = source.get();
  if (!src) {
    fprintf(stderr, "musqratt-cli: %s\n", source.error().c_str());
    return 1;
  }
  const std::string tmp = dest + ".tmp";
  fs::remove(tmp);
  sqlite3* out = nullptr;
  int rc = sqlite3_open_v2(tmp.c_str(), &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc == SQLITE_OK) ::chmod(tmp.c_str(), 0600);  // sessions and messages: private
  sqlite3_backup* b = rc == SQLITE_OK ? sqlite3_backup_init(out, "main", src, "main") : nullptr;
  if (b) {
    // All pages in one step: one read transaction on the source, so one consistent snapshot.
    do {
      rc = sqlite3_backup_step(b, -1);
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) sqlite3_sleep(50);
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(b);
  }
  std::string failure;
  if (rc != SQLITE_DONE) failure = out ? sqlite3_errmsg(out) : "cannot create " + tmp;
  else if (std::string check = integrity(out); check != "ok") failure = "the copy fails its integrity check: " + check;
  long long pages = out ? scalar(out, "PRAGMA page_count") : 0;
  sqlite3_close(out);
  if (failure.empty() && (!fsync_path(tmp, false) || ::rename(tmp.c_str(), dest.c_str()) != 0))
    failure = std::string(strerror(errno));
  if (!failure.empty()) {
    fs::remove(tmp);
    fprintf(stderr, "musqratt-cli: backup of %s to %s failed: %s\n", path.c_str(), dest.c_str(), failure.c_str());
    return 1;
  }
  fsync_path(fs::path(dest).parent_path().empty() ? "." : fs::path(dest).parent_path().string(), true);
  printf("%s -> %s: %lld pages, integrity ok\n", path.c_str(), dest.c_str(), pages);
  return 0;
}

}  // namespace

int run_store(int argc, char** argv) {
  if (argc >= 1 && (std::string(argv[0]) == "-h" || std::string(argv[0]) == "--help")) return usage(), 0;
  if (argc == 2 && std::string(argv[0]) == "check") return check(argv[1]);
  if (argc == 3 && std::string(argv[0]) == "backup") return backup(argv[1], argv[2]);
  return usage();
}

}  // namespace musqratt::cli
