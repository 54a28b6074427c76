#include "protocol/forwarded_properties.h"

namespace musqratt::protocol {

std::shared_ptr<const Properties> forwarded_properties(Properties&& in) {
  if (!in.payload_format_indicator && !in.content_type && !in.response_topic && !in.correlation_data &&
      in.user_properties.empty())
    return nullptr;
  auto p = std::make_shared<Properties>();
  p->payload_format_indicator = in.payload_format_indicator;
  p->content_type = std::move(in.content_type);
  p->response_topic = std::move(in.response_topic);
  p->correlation_data = std::move(in.correlation_data);
  p->user_properties = std::move(in.user_properties);
  return p;
}

}  // namespace musqratt::protocol
