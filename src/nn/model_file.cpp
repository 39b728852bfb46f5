// Model files: a directory with model.safetensors (every parameter and
// buffer, named as Sequential::NamedTensors names them) and model.json:
//   {"format": "joule-model", "version": 1,
//    "architecture": {"layers": [...]}, "metadata": {...}}
// The weights are written first and model.json last, each atomically, so a
// directory whose model.json is complete also has its weights.
#include <filesystem>
#include <map>
#include <string>
#include <system_error>

#include "joule/nn.hpp"

namespace joule {
namespace {

constexpr const char* kFormat = "joule-model";
constexpr int kVersion = 1;

std::string WeightsPath(const std::string& dir) {
  return (std::filesystem::path(dir) / "model.safetensors").string();
}
std::string JsonPath(const std::string& dir) {
  return (std::filesystem::path(dir) / "model.json").string();
}

nlohmann::json ReadModelJson(const std::string& path) {
  std::string text = ReadFile(path);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    throw Error(path + ": byte offset " + std::to_string(offset) + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object() || doc.value("format", nlohmann::json()) != kFormat) {
    throw Error(path + ": not a joule model file: expected a JSON object with \"format\": \"" +
                kFormat + "\"; save models with SaveModel (joule train --save DIR)");
  }
  if (doc.value("version", nlohmann::json()) != kVersion) {
    throw Error(path + ": model file version " + doc.value("version", nlohmann::json()).dump() +
                " is not supported; this joule reads version " + std::to_string(kVersion));
  }
  if (!doc.contains("architecture")) {
    throw Error(path + ": missing \"architecture\"; the file is incomplete");
  }
  return doc;
}

}  // namespace

void SaveModel(Sequential& model, const std::string& dir, const nlohmann::json& metadata) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw Error(dir + ": cannot create the model directory: " +
                (ec ? ec.message() : std::string("a file of that name exists")));
  }
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (const auto& [name, tensor] : model.NamedTensors()) tensors.emplace_back(name, tensor);
  // The safetensors copy of the metadata is for Python users who only look
  // at the weights; model.json keeps it with its JSON types.
  WriteSafetensors(WeightsPath(dir), tensors, metadata.is_object() ? metadata : nlohmann::json());

  nlohmann::ordered_json doc = nlohmann::ordered_json::object();
  doc["format"] = kFormat;
  doc["version"] = kVersion;
  doc["architecture"] = model.Architecture();
  doc["metadata"] = metadata.is_null() ? nlohmann::json::object() : metadata;
  WriteFileAtomic(JsonPath(dir), doc.dump(2) + "\n");
}

Sequential LoadModel(const std::string& dir, nlohmann::json* metadata) {
  const std::string json_path = JsonPath(dir);
  const std::string weights_path = WeightsPath(dir);
  nlohmann::json doc = ReadModelJson(json_path);
  Sequential model;
  try {
    model = Sequential::FromArchitecture(doc["architecture"]);
  } catch (const Error& e) {
    throw Error(json_path + ": " + e.what());
  }

  std::map<std::string, Tensor> stored;
  for (auto& [name, tensor] : ReadSafetensors(weights_path))
    stored.emplace(name, std::move(tensor));
  for (auto& [name, tensor] : model.NamedTensors()) {
    auto it = stored.find(name);
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
