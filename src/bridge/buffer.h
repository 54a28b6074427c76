#pragma once
// A bridge's buffer is a broker session of its own ("$bridge/NAME", never expiring, persistent
// when the broker is): subscribed locally to every out rule's filter with No Local, so a QoS
// 1/2 message matching a rule is in its queue (on disk with persistence) before the publisher
// is acknowledged, and leaves it only on the upstream's PUBACK or PUBCOMP. Limits and the
// overflow policy are the buffer_* settings.
#include "bridge/bridge_config.h"
#include "bridge/topic_mapping.h"
#include "broker/broker.h"
#include "broker/waker.h"
#include "util/clock.h"

namespace musqratt::bridge {

/// Finds (restored from disk) or makes the buffer session of `config`, applies its limits and
/// makes its subscriptions those of `topics` (filters no longer configured are dropped).
/// It is left offline (detached): it buffers until an Uplink attaches it. `waker` is attached
/// for a moment under token 0, which no connection has. Thread: any.
broker::SessionPtr open_buffer(broker::Broker& broker, const BridgeConfig& config, const TopicMap& topics,
                               broker::Waker* waker, util::TimePoint now);

/// The buffer limits of `config` as queue limits.
broker::QueueLimits buffer_limits(const BridgeConfig& config);

}  // namespace musqratt::bridge
