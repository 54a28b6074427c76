// What a cluster node parses from NATS: subjects (the topic <-> subject mapping) and message
// envelopes. The whole input is tried as both. Checks: no crash; a subject that reads back as a
// topic is the one canonical subject of that topic; one that reads back as a filter is among
// that filter's subjects; a valid topic name maps to a subject that reads back to it and that
// its own filter subject matches; an envelope that decodes re-encodes to one no longer
// that decodes to the same message; a session record or a session transfer (what another node
// sends when it hands a session over) that decodes re-encodes to one that decodes the same.
#include <cstdlib>
#include <string>
#include <string_view>

#include "cluster/envelope.h"
#include "cluster/session_record.h"
#include "cluster/session_transfer.h"
#include "cluster/subject_map.h"
#include "protocol/topic.h"

using namespace musqratt;

namespace {
void require(bool ok) {
  if (!ok) abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  if (auto topic = cluster::subject_to_topic(in)) {
    require(cluster::topic_to_subject(*topic) == in);
  }
  if (auto filter = cluster::subject_to_filter(in)) {
    if (protocol::valid_topic_filter(*filter)) {
      bool found = false;
      for (const auto& s : cluster::filter_to_subjects(*filter)) found = found || s == in;
      // The parent subject of "x/#" reads back as "x", whose one subject is itself.
      require(found);
    }
  }
  if (protocol::valid_topic_name(in)) {
    std::string s = cluster::topic_to_subject(in);
    require(cluster::subject_to_topic(s) == std::optional<std::string>(std::string(in)));
    for (const auto& f : cluster::filter_to_subjects(in)) require(cluster::subject_matches(f, s));
    require(cluster::subject_matches(in[0] == '$' ? "d.>" : "t.>", s));
  }

  if (auto d = cluster::decode_envelope("t", {data, size})) {
    std::string again;
    cluster::encode_envelope(again, *d->msg, d->who);
    require(again.size() <= size);  // properties may come back in another order, lengths shorter
    auto e = cluster::decode_envelope("t", {reinterpret_cast<const uint8_t*>(again.data()), again.size()});
    require(e.has_value() && e->who == d->who);
    const auto &a = *d->msg, &b = *e->msg;
    require(a.payload == b.payload && a.qos == b.qos && a.retain == b.retain && a.origin == b.origin);
    require(static_cast<bool>(a.properties) == static_cast<bool>(b.properties));
    if (a.properties) require(*a.properties == *b.properties);
    require(a.expires_at.has_value() == b.expires_at.has_value());
  }

  if (auto r = cluster::decode_record(in)) {
    auto again = cluster::decode_record(cluster::encode_record(*r));
    require(again.has_value() && *again == *r);
  }
  if (auto t = cluster::decode_transfer({data, size}, "c")) {
    std::string blob;
    cluster::encode_transfer(blob, *t, 1);
    auto u = cluster::decode_transfer({reinterpret_cast<const uint8_t*>(blob.data()), blob.size()}, "c");
    require(u.has_value() && u->expiry == t->expiry && u->subscriptions == t->subscriptions &&
            u->outbound.size() == t->outbound.size() && u->incoming_qos2 == t->incoming_qos2);
    for (size_t i = 0; i < t->outbound.size(); ++i) {
      const auto &x = t->outbound[i], &y = u->outbound[i];
      require(x.state == y.state && x.packet_id == y.packet_id && x.qos == y.qos && x.retain == y.retain &&
              x.subscription_ids == y.subscription_ids && bool(x.msg) == bool(y.msg));
      if (x.msg) require(x.msg->origin == y.msg->origin && x.msg->payload == y.msg->payload && x.msg->topic == y.msg->topic);
    }
  }
  return 0;
}
