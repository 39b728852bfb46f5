// MakeLayer: type name -> factory from config(), the inverse of
// Layer::type() and Layer::config(); and the strict config readers the
// factories share. Strict because a typo in model.json ("kernal") silently
// falling back to a default would build a different model than was saved.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "joule/nn.hpp"
#include "nn/layers_internal.hpp"

namespace joule {
namespace nn_internal {
namespace {

const nlohmann::json& RequireKey(const std::string& layer, const nlohmann::json& config,
                                 const char* key) {
  auto it = config.find(key);
  if (it == config.end()) {
    throw Error(layer + " config: missing key '" + key + "' in " + config.dump() +
                "; add it to the layer's \"config\" object");
  }
  return *it;
}

}  // namespace

void CheckConfigKeys(const std::string& layer, const nlohmann::json& config,
                     std::initializer_list<const char*> allowed) {
  std::string expected;
  for (const char* key : allowed) expected += std::string(expected.empty() ? "" : ", ") + key;
  if (expected.empty()) expected = "none";
  if (!config.is_object()) {
    throw Error(layer + " config: expected a JSON object with keys (" + expected + "), got " +
                config.dump());
  }
  for (const auto& item : config.items()) {
    bool known = false;
    for (const char* key : allowed) known = known || item.key() == key;
    if (!known) {
      throw Error(layer + " config: unknown key '" + item.key() + "'; expected keys: " + expected);
    }
  }
}

std::int64_t ConfigInt(const std::string& layer, const nlohmann::json& config, const char* key,
                       std::int64_t min_value, std::int64_t max_value) {
  const nlohmann::json& v = RequireKey(layer, config, key);
  // Appended piecewise: GCC 12 reports a false -Wrestrict on "[" + to_string().
  std::string range = "[";
  range += std::to_string(min_value);
  range += ", ";
  range += std::to_string(max_value);
  range += "]";
  bool ok = v.is_number_integer();
  std::int64_t value = 0;
  if (ok && v.is_number_unsigned()) {
    auto u = v.get<std::uint64_t>();
    ok = u <= static_cast<std::uint64_t>(max_value);
    value = static_cast<std::int64_t>(u);
  } else if (ok) {
    value = v.get<std::int64_t>();
  }
  if (!ok || value < min_value || value > max_value) {
    throw Error(layer + " config: '" + key + "' must be an integer in " + range + ", got " +
                v.dump());
  }
  return value;
}

std::uint64_t ConfigU64(const std::string& layer, const nlohmann::json& config, const char* key) {
  const nlohmann::json& v = RequireKey(layer, config, key);
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(v.get<std::int64_t>());
  }
  throw Error(layer + " config: '" + key + "' must be a non-negative integer, got " + v.dump());
}

double ConfigNumber(const std::string& layer, const nlohmann::json& config, const char* key) {
  const nlohmann::json& v = RequireKey(layer, config, key);
  if (!v.is_number() || !std::isfinite(v.get<double>())) {
    throw Error(layer + " config: '" + key + "' must be a finite number, got " + v.dump());
  }
  return v.get<double>();
}

double DeclaredWeights(const std::string& type, const nlohmann::json& config) {
  auto get = [&](const char* key) -> double {
    if (!config.is_object()) return 0;
    auto it = config.find(key);
    if (it == config.end() || !it->is_number_integer()) return 0;
    return std::max(0.0, it->get<double>());
  };
  if (type == "Linear" || type == "QuantizedLinear" || type == "QatLinear") {
    return get("in") * get("out") + get("out");
  }
  if (type == "Conv2d") {
    return get("in_channels") * get("out_channels") * get("kernel") * get("kernel") +
           get("out_channels");
  }
  if (type == "BatchNorm1d" || type == "BatchNorm2d") return 4 * get("features");
  return 0;
}

}  // namespace nn_internal

std::unique_ptr<Layer> MakeLayer(const std::string& type, const nlohmann::json& config) {
  using Factory = std::unique_ptr<Layer> (*)(const nlohmann::json&);
  static const std::pair<const char*, Factory> kFactories[] = {
      {"Linear", LinearFromConfig},
      {"Conv2d", Conv2dFromConfig},
      {"MaxPool2d", MaxPool2dFromConfig},
      {"AvgPool2d", AvgPool2dFromConfig},
      {"ReLU", ReLUFromConfig},
      {"GELU", GELUFromConfig},
      {"Tanh", TanhFromConfig},
      {"Sigmoid", SigmoidFromConfig},
      {"Dropout", DropoutFromConfig},
      {"BatchNorm1d", BatchNorm1dFromConfig},
      {"BatchNorm2d", BatchNorm2dFromConfig},
      {"Flatten", FlattenFromConfig},
      {"Softmax", SoftmaxFromConfig},
      {"QuantizeInput", QuantizeInputFromConfig},
      {"QuantizedLinear", QuantizedLinearFromConfig},
      {"FakeQuantize", FakeQuantizeFromConfig},
      {"QatLinear", QatLinearFromConfig},
  };
  std::string known;
  for (const auto& [name, factory] : kFactories) {
    if (type != name) continue;
    try {
      return factory(config);
    } catch (const nlohmann::json::exception& e) {
      // A factory that reads its config with json::at() reports a missing or
      // mistyped key this way; the contract is joule::Error.
      throw Error(type + " config " + config.dump() + " is not valid: " + e.what());
    }
  }
  for (const auto& [name, factory] : kFactories) {
    known += std::string(known.empty() ? "" : ", ") + name;
  }
  throw Error("unknown layer type '" + type + "'; known types: " + known +
              " (names are case-sensitive)");
}

}  // namespace joule
