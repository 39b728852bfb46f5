// safetensors files, as the Hugging Face format defines them:
//
//   bytes [0, 8)       N, the header length, u64 little-endian
//   bytes [8, 8 + N)   a JSON object, padded with spaces to a multiple of 8:
//                        "NAME": {"dtype": "F32", "shape": [2, 3],
//                                 "data_offsets": [BEGIN, END]}
//                        "__metadata__": {"key": "string value", ...}  (optional)
//   bytes [8 + N, ...) the tensors' raw little-endian bytes; offsets are
//                      relative to byte 8 + N, and the tensors tile this
//                      region exactly: no gap, no overlap, nothing after.
//
// The reader checks all of that before it allocates a tensor, because model
// files and checkpoints come from disk and a corrupt one must end in an Error
// that says where, never in a crash or a huge allocation.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <unordered_set>

#include "joule/nn.hpp"

namespace joule {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; joule writes tensors' memory as is");

constexpr std::size_t kLengthBytes = 8;
// The writer pads the header so the data starts 8-byte aligned, as the
// reference implementation does.
constexpr std::size_t kHeaderAlignment = 8;
constexpr const char* kMetadataKey = "__metadata__";

struct DTypeCode {
  DType dtype;
  const char* code;
};
constexpr DTypeCode kDTypeCodes[] = {
    {DType::kF32, "F32"}, {DType::kBF16, "BF16"}, {DType::kS8, "I8"},
    {DType::kU8, "U8"},   {DType::kS32, "I32"},
};

const char* DTypeCodeOf(DType dtype) {
  for (const auto& c : kDTypeCodes) {
    if (c.dtype == dtype) return c.code;
  }
  JOULE_ASSERT(false && "every DType has a safetensors code");
}

bool ParseDTypeCode(const std::string& code, DType* dtype) {
  for (const auto& c : kDTypeCodes) {
    if (code == c.code) {
      *dtype = c.dtype;
      return true;
    }
  }
  return false;
}

std::string At(const std::string& path, std::uint64_t offset) {
  return path + ": byte offset " + std::to_string(offset) + ": ";
}

// One tensor entry of a header, validated except for its place among the others.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;  // relative to the start of the data region
};

// Reads a non-negative JSON integer; false for anything else.
bool GetUnsigned(const nlohmann::json& j, std::uint64_t* value) {
  if (!j.is_number_unsigned()) return false;
  *value = j.get<std::uint64_t>();
  return true;
}

Entry ParseEntry(const std::string& path, const std::string& name, const nlohmann::json& info,
                 std::uint64_t data_start) {
  // Header-level problems have no finer position than the header itself.
  const std::string where = At(path, kLengthBytes) + "header entry '" + name + "': ";
  if (!info.is_object()) {
    throw Error(where + "expected an object with dtype, shape and data_offsets, found " +
                info.dump());
  }
  Entry e{name, DType::kF32, {}, 0, 0};
  auto dtype_it = info.find("dtype");
  if (dtype_it == info.end() || !dtype_it->is_string()) {
    throw Error(where + "missing or non-string \"dtype\"; expected one of F32, BF16, I8, U8, I32");
  }
  if (!ParseDTypeCode(dtype_it->get<std::string>(), &e.dtype)) {
    throw Error(where + "dtype \"" + dtype_it->get<std::string>() +
                "\" is not supported by joule; expected one of F32, BF16, I8, U8, I32");
  }
  auto shape_it = info.find("shape");
  if (shape_it == info.end() || !shape_it->is_array()) {
    throw Error(where + "missing \"shape\"; expected an array of non-negative integers");
  }
  // Tensor sizes are int64; refusing more than 2^62 bytes also rules out any
  // overflow in numel * element size below. (A bound on the element count
  // alone did not: 2^62 F32 elements made 2^64 bytes, which wrapped to 0 and
  // matched data_offsets [0, 0].)
  const std::uint64_t max_numel = (std::uint64_t{1} << 62) / DTypeSize(e.dtype);
  std::uint64_t numel = 1;
  for (const auto& d : *shape_it) {
    std::uint64_t dim;
    if (!GetUnsigned(d, &dim)) {
      throw Error(where + "shape " + shape_it->dump() +
                  " holds a value that is not a non-negative integer");
    }
    if (dim > max_numel || (dim != 0 && numel > max_numel / dim)) {
      throw Error(where + "shape " + shape_it->dump() + " is too large");
    }
    numel *= dim;
    e.shape.push_back(static_cast<std::int64_t>(dim));
  }
  auto offsets_it = info.find("data_offsets");
  if (offsets_it == info.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !GetUnsigned((*offsets_it)[0], &e.begin) || !GetUnsigned((*offsets_it)[1], &e.end) ||
      e.begin > e.end) {
    throw Error(where + "\"data_offsets\" must be [begin, end] with 0 <= begin <= end, found " +
                (offsets_it == info.end() ? std::string("nothing") : offsets_it->dump()));
  }
  const std::uint64_t expected = numel * DTypeSize(e.dtype);
  if (expected != e.end - e.begin) {
    throw Error(At(path, data_start + e.begin) + "tensor '" + name + "': dtype " +
                dtype_it->get<std::string>() + " and shape " + ShapeString(e.shape) + " need " +
                std::to_string(expected) + " bytes but data_offsets [" + std::to_string(e.begin) +
                ", " + std::to_string(e.end) + "] span " + std::to_string(e.end - e.begin));
  }
  return e;
}

nlohmann::json ParseMetadata(const std::string& path, const nlohmann::json& meta) {
  if (!meta.is_object()) {
    throw Error(At(path, kLengthBytes) + "\"__metadata__\" must be an object of strings, found " +
                meta.dump());
  }
  for (const auto& [key, value] : meta.items()) {
    if (!value.is_string()) {
      throw Error(At(path, kLengthBytes) + "\"__metadata__\" value of '" + key +
                  "' must be a string, found " + value.dump());
    }
  }
  return meta;
}

// Checks that the entries, sorted by offset, tile [0, data_size) exactly.
void CheckLayout(const std::string& path, std::vector<Entry>& entries, std::uint64_t data_start,
                 std::uint64_t data_size) {
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t cursor = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.end > data_size) {
      throw Error(At(path, data_start + e.begin) + "tensor '" + e.name + "': data_offsets [" +
                  std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] run past the end of the file (" + std::to_string(data_size) +
                  " data bytes); the file is truncated or its header is wrong");
    }
    if (e.begin < cursor) {
      throw Error(At(path, data_start + e.begin) + "tensor '" + e.name + "' overlaps tensor '" +
                  previous->name + "', which ends at byte offset " +
                  std::to_string(data_start + cursor));
    }
    if (e.begin > cursor) {
      throw Error(At(path, data_start + cursor) + "bytes [" + std::to_string(data_start + cursor) +
                  ", " + std::to_string(data_start + e.begin) +
                  ") belong to no tensor (a gap before tensor '" + e.name +
                  "'); safetensors data must be contiguous");
    }
    cursor = e.end;
    previous = &e;
  }
  if (cursor != data_size) {
    throw Error(At(path, data_start + cursor) + std::to_string(data_size - cursor) +
                " trailing bytes after the last tensor; the file is corrupt or was appended to");
  }
}

}  // namespace

void WriteSafetensors(const std::string& path,
                      const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                      const nlohmann::json& metadata) {
  // ordered_json keeps the insertion order, so the header lists tensors in
  // the order of their data, as a reader of the raw file would expect.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.is_null() && !metadata.is_object()) {
    throw Error(path + ": safetensors metadata must be a JSON object, got " + metadata.dump());
  }
  if (metadata.is_object() && !metadata.empty()) {
    // The format allows only string values; anything else is stored as its
    // JSON text, which a reader can parse back.
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata.items()) {
      meta[key] = value.is_string() ? value.get<std::string>() : value.dump();
    }
    header[kMetadataKey] = std::move(meta);
  }
  std::unordered_set<std::string> names;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    JOULE_ASSERT(tensor != nullptr);
    if (name == kMetadataKey || !names.insert(name).second) {
      throw Error(path + ": tensor name '" + name + "' is " +
                  (name == kMetadataKey ? "reserved" : "used twice") +
                  "; every tensor needs its own name");
    }
    if (tensor->numel() != ShapeNumel(tensor->shape())) {
      throw Error(path + ": tensor '" + name + "' is empty (default-constructed, no shape); " +
                  "give it a shape before saving");
    }
    const std::uint64_t end = offset + tensor->nbytes();
    header[name] = {{"dtype", DTypeCodeOf(tensor->dtype())},
                    {"shape", tensor->shape()},
                    {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path +
                ": cannot encode the safetensors header (tensor names and metadata must "
                "be valid UTF-8): " +
                e.what());
  }
  json.append((kHeaderAlignment - json.size() % kHeaderAlignment) % kHeaderAlignment, ' ');

  std::string contents;
  contents.reserve(kLengthBytes + json.size() + offset);
  const std::uint64_t length = json.size();
  for (std::size_t i = 0; i < kLengthBytes; ++i) {
    contents.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  }
  contents += json;
  for (const auto& [name, tensor] : tensors) {
    if (tensor->nbytes())
      contents.append(static_cast<const char*>(tensor->raw()), tensor->nbytes());
  }
  WriteFileAtomic(path, contents);
}

std::vector<std::pair<std::string, Tensor>> ReadSafetensors(const std::string& path,
                                                            nlohmann::json* metadata) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  if (!in || file_size < kLengthBytes) {
    throw Error(At(path, 0) + "the file is " + std::to_string(file_size) +
                " bytes, too short for the 8-byte header length that starts a safetensors file");
  }
  unsigned char length_bytes[kLengthBytes];
  in.read(reinterpret_cast<char*>(length_bytes), kLengthBytes);
  std::uint64_t header_size = 0;
  for (std::size_t i = 0; i < kLengthBytes; ++i) {
    header_size |= static_cast<std::uint64_t>(length_bytes[i]) << (8 * i);
  }
  if (header_size > file_size - kLengthBytes) {
    throw Error(At(path, 0) + "header length " + std::to_string(header_size) +
                " runs past the end of the file (" + std::to_string(file_size) +
                " bytes); the file is truncated or not safetensors");
  }
  std::string text(header_size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_size));
  if (!in) throw Error(At(path, kLengthBytes) + "cannot read the header: " + std::strerror(errno));

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::uint64_t within = e.byte > 0 ? e.byte - 1 : 0;
    throw Error(At(path, kLengthBytes + within) + "header is not valid JSON: " + e.what());
  } catch (const nlohmann::json::exception& e) {
    // A number beyond double's range (1e400) is an out_of_range error, with
    // no offset; it must not escape as anything but joule::Error.
    throw Error(At(path, kLengthBytes) + "header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) {
    throw Error(At(path, kLengthBytes) + "header must be a JSON object, found " +
                std::string(header.type_name()));
  }

  const std::uint64_t data_start = kLengthBytes + header_size;
  nlohmann::json meta = nlohmann::json::object();
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      meta = ParseMetadata(path, value);
    } else {
      entries.push_back(ParseEntry(path, key, value, data_start));
    }
  }
  CheckLayout(path, entries, data_start, file_size - data_start);

  // The layout is contiguous, so the tensors are read front to back.
  std::vector<std::pair<std::string, Tensor>> tensors;
  tensors.reserve(entries.size());
  for (const Entry& e : entries) {
    Tensor t(e.shape, e.dtype);
    if (t.nbytes()) {
      in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
      if (!in) {
        throw Error(At(path, data_start + e.begin) + "cannot read tensor '" + e.name +
                    "': " + std::strerror(errno));
      }
    }
    tensors.emplace_back(e.name, std::move(t));
  }
  if (metadata != nullptr) *metadata = std::move(meta);
  return tensors;
}

}  // namespace joule
