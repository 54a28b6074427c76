#pragma once
// Shell grammar: splitting script text into commands and words, and parsing a command's
// words into positional arguments and options.

#include <expected>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace musqratt::cli {

using Words = std::vector<std::string>;

/// Splits script text into commands and each command into shell-style words, so `-c`
/// strings, stdin scripts and interactive lines all share one grammar: commands end at an
/// unquoted ';' or newline; words split on blanks; '...' is literal, "..." honours
/// backslash escapes; a line whose first non-blank character is '#' is a comment.
std::expected<std::vector<Words>, std::string> parse_script(std::string_view text);

/// One option a command accepts, spelled with its dashes ("--qos", "-t").
struct OptionSpec {
  std::string_view name;
  bool takes_value;
};

/// A command's words sorted into positionals and options, so each command validates
/// its flags the same way and unknown or incomplete options fail with one message.
struct ParsedArgs {
  Words positional;
  std::map<std::string, std::vector<std::string>, std::less<>> options;

  bool has(std::string_view name) const { return options.contains(name); }
  /// Last value given for a value option (a later flag overrides an earlier one).
  std::optional<std::string> get(std::string_view name) const;
  /// Every value given for a repeatable option, in order.
  std::vector<std::string> all(std::string_view name) const;
};

/// Parses words against spec. "--" ends options; a lone "-" is positional; "--opt=value"
/// is accepted for value options.
std::expected<ParsedArgs, std::string> parse_args(std::span<const std::string> words,
                                                  std::span<const OptionSpec> spec);

/// Parses a decimal integer within [min, max]; `what` names it in the error.
std::expected<long long, std::string> parse_int(std::string_view text, std::string_view what,
                                                long long min, long long max);

/// Parses a non-negative number of seconds, fractions allowed ("0.5").
std::expected<double, std::string> parse_seconds(std::string_view text, std::string_view what);

}  // namespace musqratt::cli
