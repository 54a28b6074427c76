#pragma once
// Helpers for the SqliteStore tests: a fresh directory per test, waiting for durability, and
// message builders.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "broker/message.h"
#include "broker/session.h"
#include "store/sqlite_store.h"

namespace musqratt::store::test {

using namespace std::chrono_literals;

/// A directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "musqratt-store-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string db() const { return path_ + "/musqratt.db"; }

 private:
  std::string path_;
};

/// A Waker that records that it was woken.
class Signal : public broker::Waker {
 public:
  void wake(uint64_t) override {
    std::lock_guard lock(mu_);
    woken_ = true;
    cv_.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return woken_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
};

/// Waits until everything issued so far is durable.
inline bool wait_durable(SqliteStore& s, std::chrono::milliseconds timeout = 10s) {
  Signal sig;
  s.notify_when_durable(s.last_issued(), broker::Link{&sig, 1});
  return sig.wait(timeout);
}

/// Polls `pred` every millisecond until it holds or `timeout` passes.
template <typename P>
bool eventually(P pred, std::chrono::milliseconds timeout = 10s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

inline StoreOptions options(const TempDir& dir, uint32_t memory_queue = 1000, uint64_t max_bytes = 0) {
  StoreOptions o;
  o.dir = dir.path();
  o.memory_queue_limit = memory_queue;
  o.reserve_bytes = 64 << 10;
  o.max_bytes = max_bytes;
  return o;
}

inline broker::MessagePtr message(std::string topic, std::string payload, uint8_t qos = 1) {
  auto m = std::make_shared<broker::Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  // The broker gives ids (Broker::new_message); here each test message gets a fresh one.
  static broker::MessageIds ids;
  m->id = ids.next();
  return m;
}

inline broker::Outbound outbound(broker::MessagePtr m, uint64_t seq, uint8_t qos = 1) {
  broker::Outbound o;
  o.msg = std::move(m);
  o.qos = qos;
  o.seq = seq;
  return o;
}

/// Runs one SQL statement on a closed store's file (to tamper with it).
inline void sql(const std::string& db_path, const char* statement) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, statement, nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

}  // namespace musqratt::store::test
