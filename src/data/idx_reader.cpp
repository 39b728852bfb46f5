// IDX reader: the format of MNIST and its relatives (Fashion-MNIST, KMNIST).
// Big-endian u32 header fields; the magic's third byte is the element type
// (0x08 = unsigned byte) and its fourth the number of dimensions.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <vector>

#include "data/byte_stream.hpp"
#include "joule/data.hpp"

namespace joule {
namespace {

using data_internal::ByteStream;

constexpr std::uint32_t kImagesMagic = 2051;  // 0x00000803: u8, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 2049;  // 0x00000801: u8, 1 dimension
// A file claiming more pixels than this is refused before anything is
// allocated for it (64 GiB as f32).
constexpr std::uint64_t kMaxElements = std::uint64_t{1} << 34;
// Data is read in pieces so that a header claiming far more than the file
// holds fails on truncation instead of allocating the claimed size up front.
// The pieces start small and double, so that what is allocated follows what
// the file holds: a corrupt header on a small file costs kFirstPiece, not
// kReadPiece zeroed bytes (fuzzing found every such input 16 MiB slow).
constexpr std::size_t kFirstPiece = std::size_t{64} << 10;
constexpr std::size_t kReadPiece = std::size_t{16} << 20;

std::uint32_t BigEndianU32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::string Hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string DescribeMagic(std::uint32_t magic) {
  if (magic == kImagesMagic) return "IDX images: unsigned bytes, 3 dimensions";
  if (magic == kLabelsMagic) return "IDX labels: unsigned bytes, 1 dimension";
  return "";
}

// Reads the header (magic + one u32 per dimension) and checks the magic.
// `names` says what each dimension counts, for messages.
std::vector<std::uint32_t> ReadHeader(ByteStream& in, std::uint32_t expected_magic,
                                      const std::vector<const char*>& names) {
  const auto dimensions = static_cast<int>(names.size());
  const std::size_t header_bytes = 4 + 4 * static_cast<std::size_t>(dimensions);
  unsigned char buf[16];
  std::size_t got = in.Read(buf, header_bytes);
  // The magic is checked before the length: a file of the wrong kind is more
  // usefully reported as such than as "truncated".
  if (got >= 4) {
    std::uint32_t magic = BigEndianU32(buf);
    if (magic != expected_magic) {
      std::string found = std::to_string(magic) + " (" + Hex32(magic) + ")";
      std::string hint;
      if (magic == kImagesMagic || magic == kLabelsMagic) {
        hint = "; this is an " + DescribeMagic(magic) +
               " file: are the images and labels paths swapped?";
      } else {
        hint = "; this is not an IDX file of unsigned bytes";
      }
      throw Error(in.Where(0) + ": wrong magic number: expected " + std::to_string(expected_magic) +
                  " (" + Hex32(expected_magic) + ", " + DescribeMagic(expected_magic) +
                  "), found " + found + hint);
    }
  }
  if (got < header_bytes) {
    throw Error(in.Where(got) + ": truncated header: expected " + std::to_string(header_bytes) +
                " bytes, found " + std::to_string(got));
  }
  std::vector<std::uint32_t> fields;
  for (int d = 0; d < dimensions; ++d) {
    std::size_t at = 4 + 4 * static_cast<std::size_t>(d);
    std::uint32_t v = BigEndianU32(buf + at);
    if (v == 0) {
      throw Error(in.Where(at) + ": the header's " + names[static_cast<std::size_t>(d)] +
                  " is 0; expected at least one item of at least 1x1");
    }
    fields.push_back(v);
  }
  return fields;
}

// Reads exactly `count` bytes of data and then checks that the file ends.
std::vector<unsigned char> ReadData(ByteStream& in, std::uint64_t count, const char* what) {
  const std::uint64_t start = in.offset();
  std::vector<unsigned char> bytes;
  while (bytes.size() < count) {
    const std::size_t piece = std::clamp(bytes.size(), kFirstPiece, kReadPiece);
    std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(count - bytes.size(), piece));
    std::size_t old = bytes.size();
    bytes.resize(old + want);
    std::size_t got = in.Read(bytes.data() + old, want);
    if (got < want) {
      std::uint64_t found = old + got;
      throw Error(in.Where(start + found) + ": truncated " + what + ": expected " +
                  std::to_string(count) + " bytes from byte offset " + std::to_string(start) +
                  ", found " + std::to_string(found) +
                  "; the file is incomplete (or its header's counts are wrong)");
    }
  }
  std::uint64_t end = in.offset();
  std::uint64_t extra = in.SkipToEnd();
  if (extra > 0) {
    throw Error(in.Where(end) + ": " + std::to_string(extra) + " trailing byte" +
                (extra == 1 ? "" : "s") + " after the " + what +
                "; expected the file to end at byte offset " + std::to_string(end) +
                " as its header says (are the header's counts wrong?)");
  }
  return bytes;
}

}  // namespace

Dataset LoadIdx(const std::string& images_path, const std::string& labels_path) {
  ByteStream images(images_path);
  ByteStream labels(labels_path);
  std::vector<std::uint32_t> image_dims =
      ReadHeader(images, kImagesMagic, {"image count", "row count", "column count"});
  std::vector<std::uint32_t> label_dims = ReadHeader(labels, kLabelsMagic, {"label count"});
  const std::uint64_t count = image_dims[0];
  if (label_dims[0] != count) {
    throw Error(labels.Where(4) + ": label count " + std::to_string(label_dims[0]) +
                " does not match the image count " + std::to_string(count) + " in " + images_path +
                "; the two files must come from the same split");
  }
  const std::uint64_t height = image_dims[1], width = image_dims[2];
  const std::uint64_t pixels = height * width;  // < 2^64: both are u32
  if (pixels > kMaxElements / count) {
    throw Error(images.Where(4) + ": header claims " + std::to_string(count) + " images of " +
                std::to_string(height) + "x" + std::to_string(width) +
                ", more than joule loads (2^34 pixels); is the header corrupt?");
  }

  std::vector<unsigned char> pixel_bytes = ReadData(images, count * pixels, "image data");
  std::vector<unsigned char> label_bytes = ReadData(labels, count, "label data");

  Dataset data;
  const auto n = static_cast<std::int64_t>(count);
  data.x = Tensor({n, 1, static_cast<std::int64_t>(height), static_cast<std::int64_t>(width)});
  float* x = data.x.f32();
  const std::size_t total = pixel_bytes.size();
  for (std::size_t i = 0; i < total; ++i) x[i] = static_cast<float>(pixel_bytes[i]) / 255.0f;

  data.y = Tensor({n});
  float* y = data.y.f32();
  unsigned char max_label = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<float>(label_bytes[static_cast<std::size_t>(i)]);
    max_label = std::max(max_label, label_bytes[static_cast<std::size_t>(i)]);
  }
  data.task = Task::kClassification;
  data.num_classes = max_label + 1;
  return data;
}

Dataset LoadIdxDir(const std::string& dir, bool train) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error(dir +
                ": no such directory; expected a directory holding the MNIST-named IDX "
                "files (train-images-idx3-ubyte[.gz], ...)");
  }
  auto find = [&](const std::string& name) {
    for (const std::string& candidate : {name + ".gz", name}) {
      fs::path p = fs::path(dir) / candidate;
      if (fs::is_regular_file(p, ec)) return p.string();
    }
    throw Error((fs::path(dir) / name).string() +
                "[.gz]: missing; a dataset directory holds train-images-idx3-ubyte, "
                "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, "
                "each optionally gzip-compressed with a .gz suffix");
  };
  const std::string split = train ? "train" : "t10k";
  std::string images = find(split + "-images-idx3-ubyte");
  std::string labels = find(split + "-labels-idx1-ubyte");
  return LoadIdx(images, labels);
}

Dataset LoadMnist(bool train) { return LoadIdxDir(DataDir() + "/mnist", train); }

}  // namespace joule
