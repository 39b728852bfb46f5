#include "meter/small_file.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace joule::meter {

long ReadSmallFile(const char* path, char* buffer, std::size_t capacity) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  std::size_t total = 0;
  // procfs may return a file in several reads; loop until EOF or full.
  while (total + 1 < capacity) {
    ssize_t n = ::read(fd, buffer + total, capacity - 1 - total);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return -err;
    }
    if (n == 0) break;
    total += static_cast<std::size_t>(n);
  }
  ::close(fd);
  buffer[total] = '\0';
  return static_cast<long>(total);
}

ProcFile& ProcFile::operator=(ProcFile&& other) noexcept {
  if (this != &other) {
    Close();
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    kernel_fs_ = other.kernel_fs_;
    other.fd_ = -1;
  }
  return *this;
}

void ProcFile::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

long ProcFile::Read(char* buffer, std::size_t capacity) {
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return -errno;
    // procfs and sysfs report a process or device that is gone as a read
    // error; elsewhere (fakes in tests) a gone entry is an unlinked file.
    struct statfs fs;
    kernel_fs_ =
        ::fstatfs(fd_, &fs) == 0 && (fs.f_type == PROC_SUPER_MAGIC || fs.f_type == SYSFS_MAGIC);
  }
  std::size_t total = 0;
  while (total + 1 < capacity) {
    std::size_t want = capacity - 1 - total;
    ssize_t n = ::pread(fd_, buffer + total, want, static_cast<off_t>(total));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      Close();
      return -err;
    }
    total += static_cast<std::size_t>(n);
    // These files are generated whole on each read, so a short read is the
    // end; stopping here saves the extra pread that would return 0.
    if (static_cast<std::size_t>(n) < want) break;
  }
  struct stat st;
  if (!kernel_fs_ && ::fstat(fd_, &st) == 0 && st.st_nlink == 0) {
    Close();
    return -ENOENT;
  }
  buffer[total] = '\0';
  return static_cast<long>(total);
}

bool ParseU64(std::string_view text, std::uint64_t* value) {
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i == text.size() || text[i] < '0' || text[i] > '9') return false;
  std::uint64_t v = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *value = v;
  return true;
}

bool ReadTrimmed(const std::string& path, std::string* out, int* error_number) {
  char buffer[4096];
  long n = ReadSmallFile(path.c_str(), buffer, sizeof buffer);
  if (n < 0) {
    if (error_number != nullptr) *error_number = static_cast<int>(-n);
    return false;
  }
  std::string_view text(buffer, static_cast<std::size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r' ||
                           text.back() == '\t')) {
    text.remove_suffix(1);
  }
  out->assign(text);
  return true;
}

std::vector<std::string> ListDirectory(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

long GetDents(int dir_fd, char* buffer, std::size_t capacity) {
  long n = ::syscall(SYS_getdents64, dir_fd, buffer, capacity);
  return n < 0 ? -errno : n;
}

}  // namespace joule::meter
