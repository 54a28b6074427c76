#pragma once
// `musqratt-cli passwd FILE USER [-p PASSWORD] [-D]`: adds, updates or deletes a user in the
// broker's password file (salted PBKDF2 hashes; see src/auth).
namespace musqratt::cli {
int run_passwd(int argc, char** argv);
}
