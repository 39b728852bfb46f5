// Reading small procfs/sysfs files into caller-owned buffers, so that the
// sampling path never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace joule::meter {

// Reads at most `capacity - 1` bytes of `path` into `buffer`, NUL-terminated.
// Returns the bytes read, or -errno on failure (-ENOENT, -EACCES, ...).
// Does not allocate.
long ReadSmallFile(const char* path, char* buffer, std::size_t capacity);

// A small procfs/sysfs file kept open between reads: each Read re-reads it
// from offset 0 with pread, which makes the kernel regenerate the contents,
// and skips the path lookup of a fresh open (2-3x cheaper per sample). A file
// that has been unlinked (a test's fake /proc entry for a process that
// exited) reads as -ENOENT, as the gone /proc entry would. Move-only.
class ProcFile {
 public:
  ProcFile() = default;
  explicit ProcFile(std::string path) : path_(std::move(path)) {}
  ~ProcFile() { Close(); }
  ProcFile(ProcFile&& other) noexcept
      : path_(std::move(other.path_)), fd_(other.fd_), kernel_fs_(other.kernel_fs_) {
    other.fd_ = -1;
  }
  ProcFile& operator=(ProcFile&& other) noexcept;
  ProcFile(const ProcFile&) = delete;
  ProcFile& operator=(const ProcFile&) = delete;

  // Like ReadSmallFile: bytes read (NUL-terminated in `buffer`) or -errno.
  // Opens on first use; after a failure the next Read opens the path afresh.
  // Does not allocate.
  long Read(char* buffer, std::size_t capacity);
  void Close();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool kernel_fs_ = false;
};

// Parses a decimal unsigned integer at the start of `text` (leading spaces
// skipped, stops at the first non-digit). False when there is no digit or it
// overflows.
bool ParseU64(std::string_view text, std::uint64_t* value);

// Whole file as a string with trailing whitespace removed; nullopt-like: returns
// false and sets *error_number when it cannot be read. Allocates: setup only.
bool ReadTrimmed(const std::string& path, std::string* out, int* error_number);

// Names in a directory (no "." or ".."), sorted; empty when it cannot be read.
// Allocates: setup only.
std::vector<std::string> ListDirectory(const std::string& dir);

// Calls `callback(name)` for each entry of the open directory `dir_fd` using
// getdents64 into `buffer`, so that it does not allocate. Returns false when
// the directory cannot be read.
template <typename Callback>
bool ForEachDirEntry(int dir_fd, char* buffer, std::size_t capacity, Callback callback);

// Implementation detail of ForEachDirEntry: one getdents64 call.
long GetDents(int dir_fd, char* buffer, std::size_t capacity);

template <typename Callback>
bool ForEachDirEntry(int dir_fd, char* buffer, std::size_t capacity, Callback callback) {
  // struct linux_dirent64 layout: u64 ino, s64 off, u16 reclen, u8 type, char name[].
  constexpr std::size_t kReclenOffset = 16, kNameOffset = 19;
  for (;;) {
    long n = GetDents(dir_fd, buffer, capacity);
    if (n < 0) return false;
    if (n == 0) return true;
    for (long pos = 0; pos < n;) {
      unsigned short reclen;
      __builtin_memcpy(&reclen, buffer + pos + kReclenOffset, sizeof reclen);
      const char* name = buffer + pos + kNameOffset;
      if (!(name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))) {
        callback(std::string_view(name));
      }
      pos += reclen;
    }
  }
}

}  // namespace joule::meter
