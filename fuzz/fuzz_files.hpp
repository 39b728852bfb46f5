// Helpers for fuzz targets whose reader takes a path rather than bytes.
//
// Several readers take a file, a directory of files, or a tree laid out like
// /sys or /proc. A fuzz input holds all of them as parts separated by
// kPartSeparator (chosen so that it does not occur in real gzip, JSON, TOML or
// sysfs text, so that seeds made from real files split where intended).
// Fixed-layout targets map part i to a fixed file name; tree targets read each
// part as "RELATIVE/PATH\nCONTENTS".
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace joule::fuzz {

inline constexpr std::string_view kPartSeparator = "#@joule-fuzz@#";

// The parts of `data`, split on kPartSeparator (one part when it is absent).
inline std::vector<std::string_view> SplitParts(const std::uint8_t* data, std::size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (;;) {
    std::size_t at = all.find(kPartSeparator);
    if (at == std::string_view::npos) {
      parts.push_back(all);
      return parts;
    }
    parts.push_back(all.substr(0, at));
    all.remove_prefix(at + kPartSeparator.size());
  }
}

// A directory private to this process, under /dev/shm when it exists (the
// readers then cost no disk I/O per input), emptied for each input and
// removed when the process exits normally.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : P_tmpdir;
    std::string pattern = std::string(base) + "/joule_fuzz_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("joule fuzz: mkdtemp");
      std::abort();
    }
    root_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& root() const { return root_; }

  // Removes everything under root() and returns root().
  const std::string& Clear() const {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(root_, ec)) {
      std::filesystem::remove_all(entry.path(), ec);
    }
    return root_;
  }

  // Writes `contents` to root()/relative, creating parent directories.
  // Aborts when the file cannot be written: that is the harness failing,
  // not the reader.
  std::string Write(const std::string& relative, std::string_view contents) const {
    std::filesystem::path path = std::filesystem::path(root_) / relative;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr || std::fwrite(contents.data(), 1, contents.size(), f) != contents.size() ||
        std::fclose(f) != 0) {
      std::perror(("joule fuzz: cannot write " + path.string()).c_str());
      std::abort();
    }
    return path.string();
  }

 private:
  std::string root_;
};

// True when `relative` is a path the tree targets may create: components of
// [A-Za-z0-9_.:-], none "." or "..", at most 6 deep and 100 bytes long. The
// limits keep the fuzzer inside the scratch directory and its trees small.
inline bool IsSafeRelativePath(std::string_view relative) {
  if (relative.empty() || relative.size() > 100 || relative.front() == '/') return false;
  int depth = 0;
  std::size_t begin = 0;
  while (begin <= relative.size()) {
    std::size_t end = relative.find('/', begin);
    if (end == std::string_view::npos) end = relative.size();
    std::string_view part = relative.substr(begin, end - begin);
    if (part.empty() || part == "." || part == ".." || ++depth > 6) return false;
    for (char c : part) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == ':' || c == '-';
      if (!ok) return false;
    }
    begin = end + 1;
  }
  return true;
}

// Lays out a tree in `dir` from parts "RELATIVE/PATH\nCONTENTS", so that a
// target can show a reader the tree at two moments (a counter that moved, a
// process that exited). Stage 1 clears `dir` and writes the parts without a
// prefix; stage 2 keeps the tree and applies the parts "next/PATH\nCONTENTS"
// (write) and "gone/PATH\n" (remove). A part whose path is unsafe, or that
// names a file under an existing file or an existing directory, is skipped,
// as is a part with no newline. Returns dir.root().
inline const std::string& WriteTree(const ScratchDir& dir, const std::uint8_t* data,
                                    std::size_t size, int stage) {
  if (stage == 1) dir.Clear();
  for (std::string_view part : SplitParts(data, size)) {
    std::size_t newline = part.find('\n');
    if (newline == std::string_view::npos) continue;
    std::string_view relative = part.substr(0, newline);
    bool remove = false;
    if (stage == 2) {
      if (relative.starts_with("next/")) {
        relative.remove_prefix(5);
      } else if (relative.starts_with("gone/")) {
        relative.remove_prefix(5);
        remove = true;
      } else {
        continue;
      }
    } else if (relative.starts_with("next/") || relative.starts_with("gone/")) {
      continue;
    }
    if (!IsSafeRelativePath(relative)) continue;
    std::filesystem::path path = std::filesystem::path(dir.root()) / relative;
    std::error_code ec;
    if (remove) {
      std::filesystem::remove_all(path, ec);
      continue;
    }
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec || std::filesystem::is_directory(path, ec)) continue;
    dir.Write(std::string(relative), part.substr(newline + 1));
  }
  return dir.root();
}

}  // namespace joule::fuzz
