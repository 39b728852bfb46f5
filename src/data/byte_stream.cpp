#include "data/byte_stream.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include "joule/util.hpp"

namespace joule::data_internal {
namespace {

constexpr std::size_t kInputChunk = 1 << 18;
// inflate counts in uInt; larger requests are served in pieces of this size.
constexpr std::size_t kMaxInflateRequest = 1u << 30;

}  // namespace

ByteStream::ByteStream(const std::string& path) : path_(path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(path + ": is a directory; expected a file");
  }
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) throw Error(path + ": cannot open: " + std::strerror(errno));

  unsigned char magic[2] = {0, 0};
  std::size_t got = std::fread(magic, 1, 2, file_);
  gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (!gzip_) {
    // Plain file: start over so that the magic bytes are part of the contents.
    if (std::fseek(file_, 0, SEEK_SET) != 0) {
      int err = errno;
      std::fclose(file_);
      throw Error(path + ": cannot rewind: " + std::strerror(err));
    }
    return;
  }
  input_.resize(kInputChunk);
  input_[0] = magic[0];
  input_[1] = magic[1];
  file_bytes_read_ = 2;
  zs_.next_in = input_.data();
  zs_.avail_in = 2;
  // 15 + 16: the largest window, and a gzip (not zlib) wrapper.
  if (inflateInit2(&zs_, 15 + 16) != Z_OK) {
    std::fclose(file_);
    throw Error(path + ": cannot initialise zlib's inflate (out of memory?)");
  }
  zs_initialised_ = true;
}

ByteStream::~ByteStream() {
  if (zs_initialised_) inflateEnd(&zs_);
  if (file_ != nullptr) std::fclose(file_);
}

std::string ByteStream::Where(std::uint64_t offset) const {
  std::string where = path_ + ": byte offset " + std::to_string(offset);
  if (gzip_) where += " of the decompressed contents";
  return where;
}

std::size_t ByteStream::Read(void* dst, std::size_t n) {
  auto* out = static_cast<unsigned char*>(dst);
  std::size_t got = gzip_ ? ReadGzip(out, n) : ReadPlain(out, n);
  offset_ += got;
  return got;
}

std::uint64_t ByteStream::SkipToEnd() {
  unsigned char scratch[1 << 14];
  std::uint64_t total = 0;
  for (;;) {
    std::size_t got = Read(scratch, sizeof scratch);
    total += got;
    if (got < sizeof scratch) return total;
  }
}

std::size_t ByteStream::ReadPlain(unsigned char* dst, std::size_t n) {
  std::size_t got = std::fread(dst, 1, n, file_);
  if (got < n && std::ferror(file_)) {
    throw Error(path_ + ": read failed at byte offset " + std::to_string(offset_ + got) + ": " +
                std::strerror(errno));
  }
  return got;
}

void ByteStream::ThrowGzip(const std::string& what) const {
  throw Error(path_ + ": compressed byte offset " + std::to_string(CompressedOffset()) + ": " +
              what + "; the file is damaged: download it again (gzip -t " + path_ +
              " checks a .gz file)");
}

void ByteStream::FillInput() {
  if (input_eof_) return;
  std::memmove(input_.data(), zs_.next_in, zs_.avail_in);
  std::size_t room = input_.size() - zs_.avail_in;
  std::size_t got = std::fread(input_.data() + zs_.avail_in, 1, room, file_);
  if (got < room) {
    if (std::ferror(file_)) {
      throw Error(path_ + ": read failed at compressed byte offset " +
                  std::to_string(file_bytes_read_ + got) + ": " + std::strerror(errno));
    }
    input_eof_ = true;
  }
  file_bytes_read_ += got;
  zs_.next_in = input_.data();
  zs_.avail_in += static_cast<uInt>(got);
}

void ByteStream::OnMemberEnd() {
  if (zs_.avail_in < 2) FillInput();
  if (zs_.avail_in == 0) {
    finished_ = true;
    return;
  }
  // gzip allows members to be concatenated; anything else is not gzip data.
  if (zs_.avail_in >= 2 && zs_.next_in[0] == 0x1f && zs_.next_in[1] == 0x8b) {
    inflateReset(&zs_);
    return;
  }
  ThrowGzip("unexpected bytes after the end of the gzip stream");
}

std::size_t ByteStream::ReadGzip(unsigned char* dst, std::size_t n) {
  std::size_t done = 0;
  while (done < n && !finished_) {
    if (zs_.avail_in == 0) FillInput();
    std::size_t request = std::min(n - done, kMaxInflateRequest);
    zs_.next_out = dst + done;
    zs_.avail_out = static_cast<uInt>(request);
    int rc = inflate(&zs_, Z_NO_FLUSH);
    done += request - zs_.avail_out;
    switch (rc) {
      case Z_OK:
        break;
      case Z_STREAM_END:
        OnMemberEnd();
        break;
      case Z_BUF_ERROR:
        // No progress was possible: inflate needs input the file does not have.
        if (zs_.avail_in == 0 && input_eof_) {
          ThrowGzip("the gzip stream ends early (the file is truncated)");
        }
        break;
      case Z_NEED_DICT:
        ThrowGzip("corrupt gzip stream (asks for a preset dictionary)");
      case Z_MEM_ERROR:
        throw Error(path_ + ": out of memory while decompressing");
      default:
        ThrowGzip(std::string("corrupt gzip stream (zlib: ") +
                  (zs_.msg != nullptr ? zs_.msg : "data error") + ")");
    }
  }
  return done;
}

}  // namespace joule::data_internal
