#include "store/store_op.h"

namespace musqratt::store {

namespace {
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

using Kind = OpTarget::Kind;

OpTarget target(Kind kind, char table, std::string_view owner, int64_t row = 0, std::string_view detail = {},
                bool whole_owner = false) {
  return OpTarget{kind, table, owner, row, detail, whole_owner};
}
}  // namespace

OpTarget target_of(const OpBody& body) {
  return std::visit(
      Overloaded{
          [](const op::SessionSave& o) { return target(Kind::Write, 'S', o.client); },
          [](const op::SessionDelete& o) { return target(Kind::Delete, 'S', o.client, 0, {}, true); },
          [](const op::SubscriptionSave& o) { return target(Kind::Write, 'B', o.client, 0, o.filter); },
          [](const op::SubscriptionDelete& o) { return target(Kind::Delete, 'B', o.client, 0, o.filter); },
          [](const op::OutboundSave& o) { return target(Kind::Write, 'Q', o.client, static_cast<int64_t>(o.seq)); },
          [](const op::OutboundDelete& o) { return target(Kind::Delete, 'Q', o.client, static_cast<int64_t>(o.seq)); },
          [](const op::Qos2Save& o) { return target(Kind::Write, 'I', o.client, o.packet_id); },
          [](const op::Qos2Delete& o) { return target(Kind::Delete, 'I', o.client, o.packet_id); },
          [](const op::RetainedSave& o) { return target(Kind::Write, 'R', o.msg->topic); },
          [](const op::RetainedDelete& o) { return target(Kind::Delete, 'R', o.topic); },
          [](const op::HeldSave& o) { return target(Kind::Write, 'H', {}, static_cast<int64_t>(o.seq)); },
          [](const op::HeldDelete& o) { return target(Kind::Delete, 'H', {}, static_cast<int64_t>(o.seq)); },
          [](const op::WillSave& o) { return target(Kind::Write, 'W', o.client); },
          [](const op::WillDelete& o) { return target(Kind::Delete, 'W', o.client); },
          [](const op::LoadQueued& o) { return target(Kind::Read, 'Q', o.client, 0, {}, true); },
      },
      body);
}

std::string row_key(const OpTarget& t) {
  std::string k;
  k.reserve(t.owner.size() + t.detail.size() + 24);
  k += t.table;
  k += t.owner;
  k += '\0';
  k += std::to_string(t.row);
  k += '\0';
  k += t.detail;
  return k;
}

size_t write_bytes(const OpBody& body) {
  auto msg_bytes = [](const broker::MessagePtr& m) { return m ? m->topic.size() + m->payload.size() : 0; };
  return std::visit(Overloaded{
                        [&](const op::OutboundSave& o) { return msg_bytes(o.msg) + o.client.size(); },
                        [&](const op::RetainedSave& o) { return msg_bytes(o.msg); },
                        [&](const op::HeldSave& o) { return msg_bytes(o.msg); },
                        [&](const op::WillSave& o) { return msg_bytes(o.msg) + o.client.size(); },
                        [](const op::SessionSave& o) { return o.client.size(); },
                        [](const op::SubscriptionSave& o) { return o.client.size() + o.filter.size(); },
                        [](const op::Qos2Save& o) { return o.client.size(); },
                        [](const auto&) -> size_t { return 0; },
                    },
                    body);
}

}  // namespace musqratt::store
