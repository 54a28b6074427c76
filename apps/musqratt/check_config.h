#pragma once
// `musqratt --check-config [--config FILE] [flags]`: reads the settings as a start would, and
// also the files they name (password file, ACL, TLS certificate and key, log file), without
// opening a listener or the store. Every error is printed with where it was set (FILE:LINE and
// key, or the flag).
#include <string>
#include <vector>

#include "settings.h"

namespace musqratt::app {

/// Errors in the files `s` names (password file, ACL, TLS, listener addresses, log file).
std::vector<std::string> check_named_files(const Settings& s, const Origins& origins);

/// The whole check; prints the errors (stderr) or "configuration OK" (stdout). Returns the exit
/// status: 0 if all is well, 1 otherwise.
int check_config(int argc, char** argv);

}  // namespace musqratt::app
