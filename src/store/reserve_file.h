#pragma once
// Space set aside next to the database for the day the disk fills up. SQLite needs room to
// finish a checkpoint and to log the deletes that free space (a DELETE is a write in a
// write-ahead log); on a full filesystem it has none, and the store could neither shrink nor
// deliver. The reserve is a file of allocated blocks: released when a write fails for lack
// of space, created again once the filesystem has that much free.
#include <cstdint>
#include <string>

namespace musqratt::store {

/// Thread: one thread at a time (the store's writer, or open()).
class ReserveFile {
 public:
  ReserveFile(std::string path, uint64_t bytes) : path_(std::move(path)), bytes_(bytes) {}

  /// Makes sure the file holds `bytes` of allocated space. False (and no file) if the
  /// filesystem has not that much free; true at once if it is already in place.
  bool ensure();
  /// Deletes the file, giving its space to the database.
  void release();
  bool present() const { return present_; }
  /// Bytes the filesystem holding the file has free for us (0 if unknown).
  uint64_t filesystem_free() const;
  uint64_t bytes() const { return bytes_; }

 private:
  const std::string path_;
  const uint64_t bytes_;
  bool present_ = false;
};

}  // namespace musqratt::store
