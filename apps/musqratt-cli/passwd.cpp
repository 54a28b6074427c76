#include "passwd.hpp"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "auth/password_file.h"
#include "auth/password_hash.h"

namespace musqratt::cli {
namespace {

int usage() {
  fprintf(stderr,
          "usage: musqratt-cli passwd FILE USER [-p PASSWORD] [-D]\n"
          "  adds USER to FILE (created if missing) or updates its password;\n"
          "  -D deletes USER. Without -p the password is read from the terminal (twice)\n"
          "  or, when stdin is not a terminal, as the first line of stdin.\n");
  return 1;
}

/// Reads one line with echo off when stdin is a terminal.
std::string read_secret(const char* prompt) {
  bool tty = isatty(STDIN_FILENO);
  termios old{};
  if (tty) {
    fprintf(stderr, "%s", prompt);
    tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    fprintf(stderr, "\n");
  }
  return line;
}

}  // namespace

int run_passwd(int argc, char** argv) {
  std::string file, user, password;
  bool remove = false, have_password = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-D") remove = true;
    else if (a == "-p" && i + 1 < argc) { password = argv[++i]; have_password = true; }
    else if (a == "-h" || a == "--help") return usage(), 0;
    else if (!a.empty() && a[0] == '-') return usage();
    else if (file.empty()) file = a;
    else if (user.empty()) user = a;
    else return usage();
  }
  if (file.empty() || user.empty()) return usage();
  if (user.find(':') != std::string::npos) {
    fprintf(stderr, "error: a user name cannot contain ':'\n");
    return 1;
  }
  auth::PasswordTable table;
  if (access(file.c_str(), F_OK) == 0) {
    auto existing = auth::read_password_file(file);
    if (!existing) {
      fprintf(stderr, "error: %s\n", existing.error().c_str());
      return 1;
    }
    table = std::move(*existing);
  }
  if (remove) {
    if (table.erase(user) == 0) {
      fprintf(stderr, "error: no user '%s' in %s\n", user.c_str(), file.c_str());
      return 1;
    }
  } else {
    if (!have_password) {
      password = read_secret("Password: ");
      if (isatty(STDIN_FILENO) && read_secret("Again: ") != password) {
        fprintf(stderr, "error: the passwords differ\n");
        return 1;
      }
    }
    if (password.empty()) {
      fprintf(stderr, "error: empty password\n");
      return 1;
    }
    table[user] = auth::hash_password(password);
  }
  if (auto w = auth::write_password_file(file, table); !w) {
    fprintf(stderr, "error: %s\n", w.error().c_str());
    return 1;
  }
  printf("%s user '%s' in %s\n", remove ? "deleted" : "stored", user.c_str(), file.c_str());
  return 0;
}

}  // namespace musqratt::cli
