// Model files: a directory with model.safetensors (every parameter and
// buffer, named as Sequential::NamedTensors names them) and model.json:
//   {"format": "joule-model", "version": 1,
//    "architecture": {"layers": [...]}, "metadata": {...}}
// The weights are written first and model.json last, each atomically, so a
// directory whose model.json is complete also has its weights.
//
// Sparse weights (pruned models): an f32 tensor named "*weight" whose
// elements are at least half +0.0 is stored as two tensors,
//   NAME.sparse_mask    U8 [ceil(numel / 8)]: bit i % 8 of byte i / 8 (LSB
//                       first) is set when element i (row-major) is stored
//   NAME.sparse_values  F32 [popcount]: the stored elements, row-major
// and every other element is +0.0. The bitmap costs 1/32 of the dense size,
// so a weight at sparsity s takes 1/32 + (1 - s) of it: 13% at 90%, less
// than index lists (u16 index + value: 1.5 (1 - s), 15% at 90%) down to
// s = 0.92, the range pruning targets. Only +0.0 counts as zero, so -0.0 and
// every other bit pattern survive a round trip bitwise. model.json lists the
// sparse tensors under "sparse" and the safetensors metadata under
// "joule_sparse".
#include <bit>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "joule/nn.hpp"

namespace joule {
namespace {

constexpr const char* kFormat = "joule-model";
constexpr int kVersion = 1;
constexpr const char* kMaskSuffix = ".sparse_mask";
constexpr const char* kValuesSuffix = ".sparse_values";
constexpr const char* kSparseLayout =
    "bitmask-lsb-f32: NAME.sparse_mask U8 [ceil(numel/8)], bit i%8 of byte i/8 set when "
    "row-major element i is stored; NAME.sparse_values F32 [popcount], the stored elements in "
    "row-major order; all other elements are +0.0";

std::string WeightsPath(const std::string& dir) {
  return (std::filesystem::path(dir) / "model.safetensors").string();
}
std::string JsonPath(const std::string& dir) {
  return (std::filesystem::path(dir) / "model.json").string();
}

nlohmann::json ReadModelJson(const std::string& path) {
  nlohmann::json doc = ReadJouleJson(path, kFormat, kVersion, "a joule model file",
                                     "save models with SaveModel (joule train --save DIR)");
  if (!doc.contains("architecture")) {
    throw Error(path + ": missing \"architecture\"; the file is incomplete");
  }
  return doc;
}

bool StoreSparse(const std::string& name, const Tensor& t) {
  const std::string suffix = "weight";
  if (t.dtype() != DType::kF32 || t.numel() == 0 || name.size() < suffix.size() ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  const auto* bits = static_cast<const std::uint32_t*>(t.raw());
  std::int64_t zeros = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) zeros += bits[i] == 0 ? 1 : 0;
  return 2 * zeros >= t.numel();
}

// Splits `t` into the mask and values tensors of the layout above.
std::pair<Tensor, Tensor> EncodeSparse(const Tensor& t) {
  const auto* bits = static_cast<const std::uint32_t*>(t.raw());
  Tensor mask({(t.numel() + 7) / 8}, DType::kU8);
  auto* m = mask.data<std::uint8_t>();
  std::vector<float> values;
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (bits[i] == 0) continue;
    m[i / 8] = static_cast<std::uint8_t>(m[i / 8] | (1u << (i % 8)));
    values.push_back(t.f32()[i]);
  }
  return {mask, Tensor::FromVector({static_cast<std::int64_t>(values.size())}, values)};
}

// Rebuilds `dst` (f32, its final shape) from a mask and values read from
// `path`; throws Error naming the file and tensor when they do not fit.
void DecodeSparse(const std::string& path, const std::string& name, const Tensor& mask,
                  const Tensor& values, Tensor& dst) {
  const std::int64_t n = dst.numel();
  auto fail = [&](const std::string& what) {
    throw Error(path + ": sparse tensor '" + name + "' (" + ShapeString(dst.shape()) +
                "): " + what + "; the file is corrupt or was not written by SaveModel");
  };
  if (dst.dtype() != DType::kF32) fail("only f32 tensors can be stored sparse");
  if (mask.dtype() != DType::kU8 || mask.rank() != 1 || mask.numel() != (n + 7) / 8) {
    fail("'" + name + kMaskSuffix + "' is " + DTypeName(mask.dtype()) + " " +
         ShapeString(mask.shape()) + ", expected u8 [" + std::to_string((n + 7) / 8) + "]");
  }
  const auto* m = mask.data<std::uint8_t>();
  std::int64_t count = 0;
  for (std::int64_t i = 0; i < mask.numel(); ++i) count += std::popcount(m[i]);
  if (n % 8 != 0 && (m[n / 8] >> (n % 8)) != 0) fail("mask bits are set past the last element");
  if (values.dtype() != DType::kF32 || values.rank() != 1 || values.numel() != count) {
    fail("'" + name + kValuesSuffix + "' is " + DTypeName(values.dtype()) + " " +
         ShapeString(values.shape()) + ", expected f32 [" + std::to_string(count) +
         "] (one value per set mask bit)");
  }
  float* d = dst.f32();
  const float* v = values.f32();
  for (std::int64_t i = 0; i < n; ++i) d[i] = (m[i / 8] >> (i % 8)) & 1u ? *v++ : 0.0f;
}

}  // namespace

double MaxDeclaredWeights(const std::string& weights_path) {
  std::error_code ec;
  const std::uintmax_t bytes = std::filesystem::file_size(weights_path, ec);
  return ec ? 0.0 : 8.0 * static_cast<double>(bytes);
}

nlohmann::json ReadJouleJson(const std::string& path, const std::string& format, int version,
                             const std::string& what, const std::string& hint) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(ReadFile(path));
  } catch (const nlohmann::json::parse_error& e) {
    const std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    throw Error(path + ": byte offset " + std::to_string(offset) + ": not valid JSON: " + e.what());
  } catch (const nlohmann::json::exception& e) {
    // A number beyond double's range (1e400) is an out_of_range error, with no offset.
    throw Error(path + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object() || doc.value("format", nlohmann::json()) != format) {
    throw Error(path + ": not " + what + ": expected a JSON object with \"format\": \"" + format +
                "\"; " + hint);
  }
  if (doc.value("version", nlohmann::json()) != version) {
    throw Error(path + ": " + format + " version " + doc.value("version", nlohmann::json()).dump() +
                " is not supported; this joule reads version " + std::to_string(version));
  }
  return doc;
}

void SaveModel(Sequential& model, const std::string& dir, const nlohmann::json& metadata) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw Error(dir + ": cannot create the model directory: " +
                (ec ? ec.message() : std::string("a file of that name exists")));
  }
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  std::vector<std::pair<Tensor, Tensor>> encoded;  // keeps sparse parts alive
  std::vector<std::string> sparse;
  const auto named = model.NamedTensors();
  encoded.reserve(named.size());
  for (const auto& [name, tensor] : named) {
    if (!StoreSparse(name, *tensor)) {
      tensors.emplace_back(name, tensor);
      continue;
    }
    encoded.push_back(EncodeSparse(*tensor));
    tensors.emplace_back(name + kMaskSuffix, &encoded.back().first);
    tensors.emplace_back(name + kValuesSuffix, &encoded.back().second);
    sparse.push_back(name);
  }
  // The safetensors copy of the metadata is for Python users who only look
  // at the weights; model.json keeps it with its JSON types.
  nlohmann::json weights_meta = metadata.is_object() ? metadata : nlohmann::json();
  if (!sparse.empty()) {
    if (weights_meta.is_null()) weights_meta = nlohmann::json::object();
    weights_meta["joule_sparse"] = nlohmann::json{{"layout", kSparseLayout}, {"tensors", sparse}};
  }
  WriteSafetensors(WeightsPath(dir), tensors, weights_meta);

  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  doc["format"] = kFormat;
  doc["version"] = kVersion;
  doc["architecture"] = model.Architecture();
  doc["metadata"] = metadata.is_null() ? nlohmann::json::object() : metadata;
  if (!sparse.empty()) doc["sparse"] = {{"layout", kSparseLayout}, {"tensors", sparse}};
  WriteFileAtomic(JsonPath(dir), doc.dump(2) + "\n");
}

Sequential LoadModel(const std::string& dir, nlohmann::json* metadata) {
  const std::string json_path = JsonPath(dir);
  const std::string weights_path = WeightsPath(dir);
  nlohmann::json doc = ReadModelJson(json_path);
  // The weights first: their file bounds what the architecture may declare,
  // so that a model.json claiming huge layers fails before they are built.
  std::map<std::string, Tensor> stored;
  for (auto& [name, tensor] : ReadSafetensors(weights_path))
    stored.emplace(name, std::move(tensor));
  Sequential model;
  try {
    model = Sequential::FromArchitecture(doc["architecture"], MaxDeclaredWeights(weights_path));
  } catch (const Error& e) {
    throw Error(json_path + ": " + e.what());
  }
  for (auto& [name, tensor] : model.NamedTensors()) {
    auto it = stored.find(name);
    auto mask = stored.find(name + kMaskSuffix);
    if (it == stored.end() && mask != stored.end()) {
      auto values = stored.find(name + kValuesSuffix);
      if (values == stored.end()) {
        throw Error(weights_path + ": sparse tensor '" + name + "' has '" + name + kMaskSuffix +
                    "' but no '" + name + kValuesSuffix +
                    "'; the file is corrupt or was not written by SaveModel");
      }
      DecodeSparse(weights_path, name, mask->second, values->second, *tensor);
      stored.erase(mask);
      stored.erase(values);
      continue;
    }
    if (it == stored.end()) {
      throw Error(weights_path + ": tensor '" + name + "' is missing; the architecture in " +
                  json_path + " needs it (were the two files written by the same SaveModel?)");
    }
    if (it->second.shape() != tensor->shape() || it->second.dtype() != tensor->dtype()) {
      throw Error(weights_path + ": tensor '" + name + "' is " + DTypeName(it->second.dtype()) +
                  " " + ShapeString(it->second.shape()) + " but the architecture in " + json_path +
                  " needs " + DTypeName(tensor->dtype()) + " " + ShapeString(tensor->shape()));
    }
    tensor->CopyFrom(it->second);
    stored.erase(it);
  }
  if (!stored.empty()) {
    std::string extra;
    for (const auto& [name, tensor] : stored) extra += (extra.empty() ? "'" : ", '") + name + "'";
    throw Error(weights_path + ": tensors " + extra + " are not part of the architecture in " +
                json_path + "; the two files do not belong together");
  }
  if (metadata != nullptr) *metadata = doc.value("metadata", nlohmann::json::object());
  return model;
}

}  // namespace joule
