#pragma once
// Operations waiting while the disk is full. They cannot all be written, yet some must be:
// deleting delivered messages is what frees space, and a session whose queue is on disk
// needs its pages read. The backlog keeps the operations in issue order and knows which of
// them may go ahead of the blocked writes without changing the outcome.
#include <cstdint>
#include <limits>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/store_op.h"

namespace musqratt::store {

/// Thread: the store's writer thread only. Ownership: holds its operations.
class Backlog {
 public:
  using List = std::list<Op>;

  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  /// The ops in issue order.
  List& ops() { return ops_; }

  /// Appends `op` (op.holds set to op.number if 0). An earlier operation on the same row is
  /// replaced: its effect would be overwritten anyway (every write stores the whole row), and
  /// the newcomer inherits its `holds`, so an acknowledgement that waited for the old one now
  /// waits for the new one. A SessionDelete replaces every earlier operation on the client's
  /// rows. A read of the queue between them cannot tell: a queue row is written or deleted
  /// again only once its message is in memory, below the range of any read still waiting.
  void append(Op op);

  /// The operations that may be applied now, ahead of the others, in order: deletes of rows no
  /// waiting operation before them touches, and reads of queues. Applying them first leaves
  /// the same rows as applying everything in order. A read is given the waiting operations
  /// before it that change rows of its queue (Op::overlay): laid over the database, they make
  /// the page it would have read in order, so a session keeps draining its stored queue while
  /// new messages for it wait to be written. A deleted queue row is never in the range of a
  /// read (the session had it in memory).
  std::vector<List::iterator> hoistable();

  void erase(List::iterator it);
  void clear();

  /// Smallest `holds` of the waiting operations that are not reads (max if none): every
  /// operation numbered below it is durable or replaced by a durable one.
  uint64_t lowest_hold() const;
  /// Payload bytes the waiting writes would add (for deciding whether to retry).
  size_t write_bytes() const { return write_bytes_; }

 private:
  void unindex(List::iterator it);

  List ops_;
  // The latest write/delete per row (by row_key), for replacing.
  std::unordered_map<std::string, List::iterator> by_row_;
  size_t write_bytes_ = 0;
};

}  // namespace musqratt::store
