#pragma once
// Where a PUBLISH payload comes from: a literal argument, a file, or standard input.

#include <expected>
#include <string>
#include <string_view>

namespace musqratt::cli {

/// Whole contents of a file, bytes as is.
std::expected<std::string, std::string> read_file(const std::string& path);

/// Standard input up to EOF, bytes as is.
std::expected<std::string, std::string> read_stdin();

/// Shell PAYLOAD argument: `@file` reads the file, `-` reads stdin to EOF (only when
/// stdin is not the command source: `stdin_free`), anything else is the payload itself.
std::expected<std::string, std::string> resolve_payload(std::string_view arg, bool stdin_free);

}  // namespace musqratt::cli
