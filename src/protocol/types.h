#pragma once
// Protocol-wide vocabulary: versions, packet types and MQTT 5 reason codes. What a reason looks
// like on the wire, per version and packet, is in protocol/reason_table.h.
#include <cstdint>

namespace musqratt::protocol {

enum class Version : uint8_t { V31 = 3, V311 = 4, V5 = 5 };

enum class PacketType : uint8_t {
  Connect = 1, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp,
  Subscribe, Suback, Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect, Auth
};

/// MQTT 5.0 reason codes (section 2.4); each value is the 5.0 byte. 3.1/3.1.1 return codes are
/// the nearest of these (reason_table.h maps them both ways).
enum class Reason : uint8_t {
  Success = 0x00,
  GrantedQos1 = 0x01,
  GrantedQos2 = 0x02,
  DisconnectWithWill = 0x04,
  NoMatchingSubscribers = 0x10,
  NoSubscriptionExisted = 0x11,
  ContinueAuthentication = 0x18,
  ReAuthenticate = 0x19,
  UnspecifiedError = 0x80,
  MalformedPacket = 0x81,
  ProtocolError = 0x82,
  ImplementationSpecificError = 0x83,
  UnsupportedProtocolVersion = 0x84,
  ClientIdentifierNotValid = 0x85,
  BadUserNameOrPassword = 0x86,
  NotAuthorized = 0x87,
  ServerUnavailable = 0x88,
  ServerBusy = 0x89,
  Banned = 0x8A,
  ServerShuttingDown = 0x8B,
  BadAuthenticationMethod = 0x8C,
  KeepAliveTimeout = 0x8D,
  SessionTakenOver = 0x8E,
  TopicFilterInvalid = 0x8F,
  TopicNameInvalid = 0x90,
  PacketIdentifierInUse = 0x91,
  PacketIdentifierNotFound = 0x92,
  ReceiveMaximumExceeded = 0x93,
  TopicAliasInvalid = 0x94,
  PacketTooLarge = 0x95,
  MessageRateTooHigh = 0x96,
  QuotaExceeded = 0x97,
  AdministrativeAction = 0x98,
  PayloadFormatInvalid = 0x99,
  RetainNotSupported = 0x9A,
  QosNotSupported = 0x9B,
  UseAnotherServer = 0x9C,
  ServerMoved = 0x9D,
  SharedSubscriptionsNotSupported = 0x9E,
  ConnectionRateExceeded = 0x9F,
  MaximumConnectTime = 0xA0,
  SubscriptionIdentifiersNotSupported = 0xA1,
  WildcardSubscriptionsNotSupported = 0xA2,
};

/// Largest value the Remaining Length varint can carry (268,435,455 bytes).
inline constexpr uint32_t kMaxRemainingLength = 268'435'455;

}  // namespace musqratt::protocol
