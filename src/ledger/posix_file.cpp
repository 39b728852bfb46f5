#include "ledger/posix_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "joule/util.hpp"

namespace joule::posix_file {
namespace {

[[noreturn]] void Fail(const std::string& what, const std::string& path, int err) {
  throw Error(what + " " + path + ": " + std::strerror(err));
}

}  // namespace

Fd::Fd(const std::string& path, int flags, const char* verb) {
  do {
    fd_ = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) Fail(std::string("cannot ") + verb, path, errno);
}

Fd::~Fd() { ::close(fd_); }

off_t Fd::Size(const std::string& path) const {
  struct stat info {};
  if (::fstat(fd_, &info) != 0) Fail("cannot stat", path, errno);
  return info.st_size;
}

ExclusiveLock::ExclusiveLock(const Fd& fd, const std::string& path) : fd_(fd.get()) {
  int rc;
  do {
    rc = ::flock(fd_, LOCK_EX);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) Fail("cannot lock", path, errno);
}

ExclusiveLock::~ExclusiveLock() { ::flock(fd_, LOCK_UN); }

std::string ReadFirstLine(const Fd& fd, const std::string& path, std::size_t limit) {
  std::string text(limit, '\0');
  std::size_t got = 0;
  while (got < limit) {
    ssize_t n = ::pread(fd.get(), text.data() + got, limit - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail("cannot read", path, errno);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
    if (text.find('\n') < got) break;
  }
  text.resize(got);
  std::size_t newline = text.find('\n');
  if (newline != std::string::npos) text.resize(newline);
  return text;
}

char LastByte(const Fd& fd, const std::string& path, off_t size) {
  JOULE_ASSERT(size > 0);
  char byte = 0;
  ssize_t n;
  do {
    n = ::pread(fd.get(), &byte, 1, size - 1);
  } while (n < 0 && errno == EINTR);
  if (n != 1) Fail("cannot read", path, n < 0 ? errno : EIO);
  return byte;
}

void AppendAll(int fd, const std::string& path, std::string_view data, off_t size_before) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      // Take back whatever part of the record reached the file, so the
      // file still ends on a whole record.
      if (done > 0 && ::ftruncate(fd, size_before) != 0) {
        throw Error("write to " + path + " failed (" + std::strerror(err) +
                    ") and the partial record could not be removed; delete the file's last line");
      }
      Fail("cannot write to", path, err);
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace joule::posix_file
