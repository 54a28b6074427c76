# Refuses a package-lock.json that could make npm fetch anything but registry packages by
# name, version and checksum: no "resolved" address (npm then asks the registry it is
# configured with), no git, file, link or URL dependencies, an integrity hash for each package.
# cmake -DLOCK=package-lock.json -P check_lock.cmake
file(READ "${LOCK}" lock)
foreach(bad "\"resolved\"" "\"link\": true")
  string(FIND "${lock}" "${bad}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${LOCK} contains ${bad}: the status page's dependencies must come from the npm "
      "registry by name and version only. Regenerate the lock in web/status with "
      "'npm install --package-lock-only --ignore-scripts --omit-lockfile-registry-resolved'.")
  endif()
endforeach()
# Every version is a registry version number, never a git, file or URL specification.
string(REGEX MATCH "\"version\": \"[^0-9]" not_semver "${lock}")
if(not_semver)
  message(FATAL_ERROR "${LOCK}: a dependency is not a registry version (${not_semver}...)")
endif()
string(REGEX MATCHALL "\"node_modules/[^\"]+\": {" pkgs "${lock}")
string(REGEX MATCHALL "\"integrity\": \"sha512-" sums "${lock}")
list(LENGTH pkgs npkgs)
list(LENGTH sums nsums)
if(NOT npkgs EQUAL nsums)
  message(FATAL_ERROR "${LOCK}: ${npkgs} packages but ${nsums} sha512 integrity hashes")
endif()
