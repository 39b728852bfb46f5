// Thin POSIX file helpers for the exporters: whole-row appends that never
// leave a partial row behind. Internal to the ledger layer. Every function
// throws joule::Error naming `path` and the system's reason.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace joule::posix_file {

// An open file descriptor, closed on destruction.
class Fd {
 public:
  // `verb` completes the message "cannot <verb> <path>".
  Fd(const std::string& path, int flags, const char* verb);
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  off_t Size(const std::string& path) const;

 private:
  int fd_;
};

// flock(LOCK_EX) for the lifetime of the object; advisory, between joule
// processes appending to the same file.
class ExclusiveLock {
 public:
  ExclusiveLock(const Fd& fd, const std::string& path);
  ~ExclusiveLock();
  ExclusiveLock(const ExclusiveLock&) = delete;
  ExclusiveLock& operator=(const ExclusiveLock&) = delete;

 private:
  int fd_;
};

// The file's first line without its "\n", reading at most `limit` bytes.
std::string ReadFirstLine(const Fd& fd, const std::string& path, std::size_t limit);

// The byte at offset size - 1 (size > 0).
char LastByte(const Fd& fd, const std::string& path, off_t size);

// Appends `data` (the descriptor has O_APPEND). If the write fails part way
// (disk full, I/O error), truncates the file back to `size_before` so no
// partial record stays, then throws.
void AppendAll(int fd, const std::string& path, std::string_view data, off_t size_before);

}  // namespace joule::posix_file
