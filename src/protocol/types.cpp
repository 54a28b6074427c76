#include "protocol/types.h"

namespace musqratt::protocol {

const char* reason_name(Reason r) {
  switch (r) {
    case Reason::Success: return "success";
    case Reason::GrantedQos1: return "granted QoS 1";
    case Reason::GrantedQos2: return "granted QoS 2";
    case Reason::DisconnectWithWill: return "disconnect with will message";
    case Reason::NoMatchingSubscribers: return "no matching subscribers";
    case Reason::NoSubscriptionExisted: return "no subscription existed";
    case Reason::ContinueAuthentication: return "continue authentication";
    case Reason::ReAuthenticate: return "re-authenticate";
    case Reason::UnspecifiedError: return "unspecified error";
    case Reason::MalformedPacket: return "malformed packet";
    case Reason::ProtocolError: return "protocol error";
    case Reason::ImplementationSpecificError: return "implementation specific error";
    case Reason::UnsupportedProtocolVersion: return "unsupported protocol version";
    case Reason::ClientIdentifierNotValid: return "client identifier not valid";
    case Reason::BadUserNameOrPassword: return "bad user name or password";
    case Reason::NotAuthorized: return "not authorized";
    case Reason::ServerUnavailable: return "server unavailable";
    case Reason::ServerBusy: return "server busy";
    case Reason::Banned: return "banned";
    case Reason::ServerShuttingDown: return "server shutting down";
    case Reason::BadAuthenticationMethod: return "bad authentication method";
    case Reason::KeepAliveTimeout: return "keep alive timeout";
    case Reason::SessionTakenOver: return "session taken over";
    case Reason::TopicFilterInvalid: return "topic filter invalid";
    case Reason::TopicNameInvalid: return "topic name invalid";
    case Reason::PacketIdentifierInUse: return "packet identifier in use";
    case Reason::PacketIdentifierNotFound: return "packet identifier not found";
    case Reason::ReceiveMaximumExceeded: return "receive maximum exceeded";
    case Reason::TopicAliasInvalid: return "topic alias invalid";
    case Reason::PacketTooLarge: return "packet too large";
    case Reason::MessageRateTooHigh: return "message rate too high";
    case Reason::QuotaExceeded: return "quota exceeded";
    case Reason::AdministrativeAction: return "administrative action";
    case Reason::PayloadFormatInvalid: return "payload format invalid";
    case Reason::RetainNotSupported: return "retain not supported";
    case Reason::QosNotSupported: return "QoS not supported";
    case Reason::UseAnotherServer: return "use another server";
    case Reason::ServerMoved: return "server moved";
    case Reason::SharedSubscriptionsNotSupported: return "shared subscriptions not supported";
    case Reason::ConnectionRateExceeded: return "connection rate exceeded";
    case Reason::MaximumConnectTime: return "maximum connect time";
    case Reason::SubscriptionIdentifiersNotSupported: return "subscription identifiers not supported";
    case Reason::WildcardSubscriptionsNotSupported: return "wildcard subscriptions not supported";
  }
  return "unknown reason";
}

}  // namespace musqratt::protocol
