#include "command_parser.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include "strformat.hpp"

namespace musqratt::cli {

std::expected<std::vector<Words>, std::string> parse_script(std::string_view text) {
  std::vector<Words> commands;
  Words words;
  std::string word;
  bool in_word = false;
  bool at_line_start = true;
  auto end_word = [&] {
    if (in_word) words.push_back(std::move(word));
    word.clear();
    in_word = false;
  };
  auto end_command = [&] {
    end_word();
    if (!words.empty()) commands.push_back(std::move(words));
    words.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (at_line_start && (c == ' ' || c == '\t')) continue;
    if (at_line_start && c == '#') {
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    at_line_start = false;
    if (c == '\n' || c == '\r') {
      end_command();
      at_line_start = true;
    } else if (c == ';') {
      end_command();
    } else if (c == ' ' || c == '\t') {
      end_word();
    } else if (c == '\'') {
      in_word = true;
      std::size_t close = text.find('\'', i + 1);
      if (close == std::string_view::npos) return std::unexpected("unterminated ' quote");
      word.append(text.substr(i + 1, close - i - 1));
      i = close;
    } else if (c == '"') {
      in_word = true;
      bool closed = false;
      for (++i; i < text.size(); ++i) {
        if (text[i] == '"') {
          closed = true;
          break;
        }
        if (text[i] == '\\' && i + 1 < text.size()) {
          char n = text[++i];
          switch (n) {
            case 'n': word += '\n'; break;
            case 't': word += '\t'; break;
            case '\\': case '"': word += n; break;
            default: word += '\\'; word += n; break;
          }
        } else {
          word += text[i];
        }
      }
      if (!closed) return std::unexpected("unterminated \" quote");
    } else if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
      in_word = true;
      word += text[++i];
    } else {
      in_word = true;
      word += c;
    }
  }
  end_command();
  return commands;
}

std::optional<std::string> ParsedArgs::get(std::string_view name) const {
  auto it = options.find(name);
  if (it == options.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> ParsedArgs::all(std::string_view name) const {
  auto it = options.find(name);
  return it == options.end() ? std::vector<std::string>{} : it->second;
}

std::expected<ParsedArgs, std::string> parse_args(std::span<const std::string> words,
                                                  std::span<const OptionSpec> spec) {
  ParsedArgs out;
  bool options_done = false;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (options_done || w.size() < 2 || w[0] != '-') {
      out.positional.push_back(w);
      continue;
    }
    if (w == "--") {
      options_done = true;
      continue;
    }
    std::string name = w;
    std::optional<std::string> inline_value;
    if (auto eq = w.find('='); w.starts_with("--") && eq != std::string::npos) {
      name = w.substr(0, eq);
      inline_value = w.substr(eq + 1);
    }
    auto it = std::ranges::find_if(spec, [&](const OptionSpec& s) { return s.name == name; });
    if (it == spec.end()) return std::unexpected(strformat("unknown option '{}'", name));
    auto& values = out.options[name];
    if (!it->takes_value) {
      if (inline_value) return std::unexpected(strformat("option '{}' takes no value", name));
      values.emplace_back();
    } else if (inline_value) {
      values.push_back(*inline_value);
    } else if (i + 1 < words.size()) {
      values.push_back(words[++i]);
    } else {
      return std::unexpected(strformat("option '{}' needs a value", name));
    }
  }
  return out;
}

std::expected<long long, std::string> parse_int(std::string_view text, std::string_view what,
                                                long long min, long long max) {
  long long v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty())
    return std::unexpected(strformat("bad {} '{}': not a number", what, text));
  if (v < min || v > max)
    return std::unexpected(strformat("bad {} '{}': must be {}..{}", what, text, min, max));
  return v;
}

std::expected<double, std::string> parse_seconds(std::string_view text, std::string_view what) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty() || !std::isfinite(v) ||
      v < 0)
    return std::unexpected(strformat("bad {} '{}': expected a number of seconds", what, text));
  return v;
}

}  // namespace musqratt::cli
