// src/data/byte_stream.hpp: a file read as a stream of bytes, gunzipped on the
// fly when it starts with the gzip magic (1f 8b).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace joule::data_internal {

class ByteStream {
 public:
  // Opens `path`. Throws Error naming the path when it cannot be opened or is a
  // directory.
  explicit ByteStream(const std::string& path);
  ~ByteStream();
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  // Reads up to n bytes of the (decompressed) contents into dst; returns fewer
  // only at the end of the contents. Throws Error, with the compressed byte
  // offset, for a corrupt or truncated gzip stream or bytes after it that are
  // not another gzip member; and for a read error.
  std::size_t Read(void* dst, std::size_t n);
  // Reads to the end, discarding; returns how many bytes there were. Also
  // verifies the gzip checksum, which zlib checks only at the stream's end.
  std::uint64_t SkipToEnd();

  // Bytes of contents delivered so far.
  std::uint64_t offset() const { return offset_; }
  bool gzip() const { return gzip_; }
  const std::string& path() const { return path_; }
  // "path: byte offset N" (plus "of the decompressed contents" for a .gz):
  // the prefix of every message about the contents.
  std::string Where(std::uint64_t offset) const;

 private:
  std::size_t ReadPlain(unsigned char* dst, std::size_t n);
  std::size_t ReadGzip(unsigned char* dst, std::size_t n);
  // Keeps the unconsumed input, appends more from the file; sets input_eof_.
  void FillInput();
  // After a gzip member ends: either the file ends, or another member follows.
  void OnMemberEnd();
  std::uint64_t CompressedOffset() const { return file_bytes_read_ - zs_.avail_in; }
  [[noreturn]] void ThrowGzip(const std::string& what) const;

  std::string path_;
  std::FILE* file_ = nullptr;
  bool gzip_ = false;
  bool zs_initialised_ = false;
  bool finished_ = false;   // all contents delivered (gzip)
  bool input_eof_ = false;  // the file has been read to its end
  z_stream zs_{};
  std::vector<unsigned char> input_;
  std::uint64_t file_bytes_read_ = 0;
  std::uint64_t offset_ = 0;
};

}  // namespace joule::data_internal
