#pragma once
// MQTT topic names and filters as NATS subjects: a documented, reversible escaping (see
// docs/cluster.md, "The topic-subject mapping"). Pure functions, no I/O.
//
//   subject   = CLASS "." TOKEN *( "." TOKEN )        one token per MQTT level
//   CLASS     = "t"  topics whose first level does not start with '$'
//             | "d"  topics whose first level starts with '$' (never matched by a leading
//                    wildcard, [MQTT-4.7.2-1], so NATS' own matching stays exact)
//   TOKEN     = "%"                                   an empty level
//             | 1*( VERBATIM / "%" HEX HEX )          bytes 0x21-0x7E except . * > % as
//                                                     they are; every other byte (space,
//                                                     controls, non-ASCII, . * > %) escaped
//   filters:  level "+" -> token "*";  trailing "#" -> token ">", and also the parent subject
//             without it, because "a/#" matches "a" too (two NATS subscriptions).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace musqratt::cluster {

/// Appends the subject of topic name `topic` (which must be a valid MQTT topic name) to `out`.
void append_topic_subject(std::string& out, std::string_view topic);
std::string topic_to_subject(std::string_view topic);

/// The NATS subjects that together match exactly the topics `filter` matches: one, or two
/// for a filter ending in "/#" (the filter's parent level, then the wildcard subject).
/// `filter` must be a valid MQTT topic filter (not a "$share/..." one).
std::vector<std::string> filter_to_subjects(std::string_view filter);

/// The topic name of a subject made by append_topic_subject; nullopt if `subject` is not one
/// (wrong class, bad escape, a wildcard token, an empty token).
std::optional<std::string> subject_to_topic(std::string_view subject);
/// The filter of one subject made by filter_to_subjects (wildcard tokens become + and #).
std::optional<std::string> subject_to_filter(std::string_view subject);

/// NATS subject matching: `*` matches one token, a trailing `>` one or more.
bool subject_matches(std::string_view pattern, std::string_view subject);

/// Whether some topic name matches both MQTT filters (valid, not "$share/..." ones).
bool filters_overlap(std::string_view a, std::string_view b);

/// A NATS token (queue group name, consumer name part) for arbitrary bytes: the level escaping
/// above, so it never contains '.', '*', '>' or whitespace.
std::string escape_token(std::string_view text);

/// Lower-case hexadecimal of `text` (KV keys allow only [-/_=.a-zA-Z0-9]).
std::string hex_key(std::string_view text);
std::optional<std::string> unhex_key(std::string_view key);

}  // namespace musqratt::cluster
