#pragma once
// Which PUBLISH properties travel with an application message from its publisher to its
// receivers (a broker's, and a bridge's, concern alike): the rest belong to one hop.
#include <memory>

#include "protocol/properties.h"

namespace musqratt::protocol {

/// The application properties a PUBLISH (or a will) carries on to its receivers
/// ([MQTT-3.3.2-4], [MQTT-3.3.2-15..18], [MQTT-3.3.2-20], 5.0), moved out of `in`; null if it
/// carries none, so a message without them costs no allocation.
std::shared_ptr<const Properties> forwarded_properties(Properties&& in);

}  // namespace musqratt::protocol
