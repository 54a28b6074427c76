#include "store/reserve_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace musqratt::store {

bool ReserveFile::ensure() {
  if (bytes_ == 0) return present_ = true;
  struct stat st{};
  if (present_ && stat(path_.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_blocks) * 512 >= bytes_) return true;
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return present_ = false;
  bool ok = false;
  int rc = posix_fallocate(fd, 0, static_cast<off_t>(bytes_));
  if (rc == 0) {
    ok = true;
  } else if (rc == EOPNOTSUPP || rc == EINVAL) {
    // A filesystem without fallocate: allocate by writing.
    std::vector<char> zeros(64 << 10);
    ok = true;
    for (uint64_t done = 0; ok && done < bytes_;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), bytes_ - done));
      ssize_t w = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(done));
      if (w <= 0) ok = false;
      else done += static_cast<uint64_t>(w);
    }
  }
  ::close(fd);
  if (!ok) ::unlink(path_.c_str());  // never keep a partial reserve that takes the last blocks
  return present_ = ok;
}

uint64_t ReserveFile::filesystem_free() const {
  std::string dir = path_.substr(0, path_.find_last_of('/') + 1);
  struct statvfs st{};
  if (statvfs(dir.empty() ? "." : dir.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

void ReserveFile::release() {
  ::unlink(path_.c_str());
  present_ = false;
}

}  // namespace musqratt::store
