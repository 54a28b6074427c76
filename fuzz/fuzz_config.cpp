// The server's config loader: the input is written to a temporary file and parsed with
// `musqratt --config FILE` through app::parse_settings (TOML via toml++, then the option table).
// parse_settings reports errors on stderr itself: run with -close_fd_mask=2 to keep it quiet.
// Known upstream bug (docs/fuzzing.md): toml++ 3.3.0 (Debian 12) reaches TOML_UNREACHABLE in
// is_non_ascii_horizontal_whitespace() for most code points in U+00A1..U+FEFE (marzer/tomlplusplus
// #190, #295). Inputs holding such a code point are skipped unless MUSQRATT_FUZZ_STRICT=1.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "settings.h"

using namespace musqratt;

namespace {
std::string g_path;
// Mirrors toml++ 3.3.0's is_non_ascii_horizontal_whitespace(): true where it hits TOML_UNREACHABLE.
bool toml_unreachable(char32_t c) {
  if (c <= 0xA0 || c >= 0xFEFF || c == 0x3000) return false;
  const uint64_t child = (c - 0xA0ull) / 0x3FAull;
  return !((1ull << child) & 0x7FFFFFFFFFFFF75Eull) && child != 5 && child != 7;
}

bool has_toml_unreachable_code_point(const uint8_t* d, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    char32_t c;
    if (d[i] >= 0xC2 && d[i] <= 0xDF && i + 1 < n) c = (d[i] & 0x1Fu) << 6 | (d[i + 1] & 0x3Fu);
    else if (d[i] >= 0xE0 && d[i] <= 0xEF && i + 2 < n) c = (d[i] & 0x0Fu) << 12 | (d[i + 1] & 0x3Fu) << 6 | (d[i + 2] & 0x3Fu);
    else continue;
    if (toml_unreachable(c)) return true;
  }
  return false;
}

const bool g_strict = [] { const char* e = getenv("MUSQRATT_FUZZ_STRICT"); return e && *e == '1'; }();
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = getenv("TMPDIR");
  std::string tmpl = std::string(dir && *dir ? dir : "/tmp") + "/fuzz_config-XXXXXX.toml";
  int fd = mkstemps(tmpl.data(), 5);
  if (fd < 0) abort();
  close(fd);
  g_path = tmpl;
  atexit([] { unlink(g_path.c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!g_strict && has_toml_unreachable_code_point(data, size)) return -1;  // -1: not kept in the corpus
  FILE* f = fopen(g_path.c_str(), "wb");
  if (!f) abort();
  if (size && fwrite(data, 1, size, f) != size) abort();
  fclose(f);

  std::string a0 = "musqratt", a1 = "--config", a2 = g_path;
  char* argv[] = {a0.data(), a1.data(), a2.data(), nullptr};
  app::Settings s;
  app::Origins origins;
  app::ParseOutcome r = app::parse_settings(3, argv, s, origins);
  if (r == app::ParseOutcome::ExitOk) abort();  // only --help/--version may ask to exit 0
  if (r == app::ParseOutcome::Run) {
    // Whatever the file said, the values obey the option table's ranges.
    if (s.config_file != g_path || s.broker.maximum_qos > 2 || s.threads > 1024) abort();
  }
  return 0;
}
