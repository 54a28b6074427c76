#include "store/backlog.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace musqratt::store {

using Kind = OpTarget::Kind;

void Backlog::unindex(List::iterator it) {
  OpTarget t = target_of(it->body);
  if (t.kind == Kind::Read || t.whole_owner) return;
  auto f = by_row_.find(row_key(t));
  if (f != by_row_.end() && f->second == it) by_row_.erase(f);
}

void Backlog::erase(List::iterator it) {
  unindex(it);
  write_bytes_ -= store::write_bytes(it->body);
  ops_.erase(it);
}

void Backlog::clear() {
  ops_.clear();
  by_row_.clear();
  write_bytes_ = 0;
}

void Backlog::append(Op op) {
  if (op.holds == 0) op.holds = op.number;
  OpTarget t = target_of(op.body);
  if (t.kind == Kind::Read) {
    ops_.push_back(std::move(op));
    return;
  }
  if (t.whole_owner) {
    for (auto it = ops_.begin(); it != ops_.end();) {
      OpTarget o = target_of(it->body);
      if (o.kind != Kind::Read && o.client_scoped() && o.owner == t.owner) {
        op.holds = std::min(op.holds, it->holds);
        auto gone = it++;
        erase(gone);
      } else {
        ++it;
      }
    }
    write_bytes_ += store::write_bytes(op.body);
    ops_.push_back(std::move(op));
    return;
  }
  std::string key = row_key(t);
  auto f = by_row_.find(key);
  if (f != by_row_.end()) {
    op.holds = std::min(op.holds, f->second->holds);
    erase(f->second);
  }
  write_bytes_ += store::write_bytes(op.body);
  ops_.push_back(std::move(op));
  by_row_[std::move(key)] = std::prev(ops_.end());
}

std::vector<Backlog::List::iterator> Backlog::hoistable() {
  std::vector<List::iterator> out;
  // What the operations left behind block, by row and by client.
  std::unordered_set<std::string> rows;
  std::unordered_set<std::string_view> any_of_client;  // some S/B/Q/I row of the client
  std::unordered_map<std::string_view, std::vector<const Op*>> queue_waiting;  // Q rows of the client
  std::unordered_set<std::string_view> whole_client;   // a SessionDelete
  std::unordered_set<std::string_view> queue_reads;    // a read of the client's queue
  for (auto it = ops_.begin(); it != ops_.end(); ++it) {
    if (it->done) continue;
    OpTarget t = target_of(it->body);
    bool go = false;
    std::string key;
    switch (t.kind) {
      case Kind::Write:
        break;
      case Kind::Read:
        go = !whole_client.contains(t.owner);
        if (go) {
          auto w = queue_waiting.find(t.owner);
          if (w != queue_waiting.end()) it->overlay = w->second;
          else it->overlay.clear();
        }
        break;
      case Kind::Delete:
        if (t.whole_owner) {
          go = !any_of_client.contains(t.owner) && !queue_reads.contains(t.owner);
        } else {
          // A queue row is deleted once its message was delivered (or expired, or dropped),
          // so it was in memory, below where any read of the queue starts: it may pass reads.
          key = row_key(t);
          go = !rows.contains(key);
          if (t.client_scoped()) go = go && !whole_client.contains(t.owner);
        }
        break;
    }
    if (go) {
      out.push_back(it);
      continue;
    }
    if (t.kind == Kind::Read) {
      queue_reads.insert(t.owner);
    } else if (t.whole_owner) {
      whole_client.insert(t.owner);
      any_of_client.insert(t.owner);
    } else {
      rows.insert(key.empty() ? row_key(t) : std::move(key));
      if (t.client_scoped()) any_of_client.insert(t.owner);
      if (t.table == 'Q') queue_waiting[t.owner].push_back(&*it);
    }
  }
  return out;
}

uint64_t Backlog::lowest_hold() const {
  uint64_t low = std::numeric_limits<uint64_t>::max();
  for (const Op& op : ops_)
    if (!std::holds_alternative<op::LoadQueued>(op.body)) low = std::min(low, op.holds);
  return low;
}

}  // namespace musqratt::store
