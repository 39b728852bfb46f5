// How a model's metadata records the feature standardisation it was trained
// with, so that eval, bench-infer and the compressors apply the same one.
#include <algorithm>

#include "joule/train.hpp"

namespace joule {
namespace {

bool AllEqual(const std::vector<float>& v) {
  return std::adjacent_find(v.begin(), v.end(), std::not_equal_to<>()) == v.end();
}

std::vector<float> ReadVector(const nlohmann::json& meta, const char* key, std::int64_t features) {
  const nlohmann::json& v = meta.at(key);
  if (!v.is_array() || !std::all_of(v.begin(), v.end(), [](auto& e) { return e.is_number(); })) {
    throw Error(std::string("model metadata: \"") + key + "\" must be an array of numbers");
  }
  std::vector<float> out = v.get<std::vector<float>>();
  if (out.size() == 1) out.assign(static_cast<std::size_t>(features), out[0]);
  if (static_cast<std::int64_t>(out.size()) != features) {
    throw Error("the data has " + std::to_string(features) +
                " feature columns but the model was trained on " + std::to_string(v.size()));
  }
  return out;
}

}  // namespace

void WriteNormalizer(const Normalizer& n, nlohmann::json& meta) {
  const bool shared = !n.mean.empty() && AllEqual(n.mean) && AllEqual(n.stddev);
  meta["feature_mean"] = shared ? std::vector<float>{n.mean[0]} : n.mean;
  meta["feature_stddev"] = shared ? std::vector<float>{n.stddev[0]} : n.stddev;
}

Normalizer ReadNormalizer(const nlohmann::json& meta, std::int64_t features) {
  if (!meta.is_object() || !meta.contains("feature_mean")) return {};
  return {ReadVector(meta, "feature_mean", features), ReadVector(meta, "feature_stddev", features)};
}

}  // namespace joule
