// A model's metadata (model.json's "metadata"): the one typed reader and
// writer, and how it records the feature standardisation the model was
// trained with, so that eval, bench-infer and the compressors apply the same.
#include <algorithm>
#include <filesystem>
#include <iterator>

#include "joule/train.hpp"
#include "joule/util.hpp"

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

namespace joule {
namespace {

// The keys ModelMetadata owns; every other key is `extra`.
const char* const kOwnKeys[] = {"data",           "target",      "task",          "model",
                                "loss",           "precision",   "epochs",        "seed",
                                "eval_name",      "target_mean", "target_stddev", "feature_mean",
                                "feature_stddev", "compression"};

template <typename T>
void ReadKey(const nlohmann::json& meta, const char* key, T* out) {
  if (!meta.contains(key)) return;
  try {
    *out = meta.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(std::string("model metadata: \"") + key +
                "\" has the wrong type: " + meta.at(key).dump());
  }
}

}  // namespace

void ModelMetadata::SetNormalizer(const Normalizer& n) {
  nlohmann::json j = nlohmann::json::object();
  WriteNormalizer(n, j);
  feature_mean = j["feature_mean"].get<std::vector<float>>();
  feature_stddev = j["feature_stddev"].get<std::vector<float>>();
}

Normalizer ModelMetadata::FeatureNormalizer(std::int64_t features) const {
  if (feature_mean.empty()) return {};
  return ReadNormalizer({{"feature_mean", feature_mean}, {"feature_stddev", feature_stddev}},
                        features);
}

nlohmann::json ModelMetadata::ToJson() const {
  nlohmann::json j = extra.is_object() ? extra : nlohmann::json::object();
  auto put = [&j](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  put("data", data);
  put("target", target);
  put("task", task);
  put("model", model);
  put("loss", loss);
  put("precision", precision);
  if (epochs > 0) j["epochs"] = epochs;
  j["seed"] = seed;
  put("eval_name", eval_name);
  if (target_scaler) {
    j["target_mean"] = target_scaler->mean;
    j["target_stddev"] = target_scaler->stddev;
  }
  if (!feature_mean.empty()) {
    j["feature_mean"] = feature_mean;
    j["feature_stddev"] = feature_stddev;
  }
  if (!compression.is_null() &&
      !(compression.is_string() && compression.get<std::string>().empty())) {
    j["compression"] = compression;
  }
  return j;
}

ModelMetadata ModelMetadata::FromJson(const nlohmann::json& meta) {
  ModelMetadata m;
  if (!meta.is_object()) return m;
  ReadKey(meta, "data", &m.data);
  ReadKey(meta, "target", &m.target);
  ReadKey(meta, "task", &m.task);
  ReadKey(meta, "model", &m.model);
  ReadKey(meta, "loss", &m.loss);
  ReadKey(meta, "precision", &m.precision);
  ReadKey(meta, "epochs", &m.epochs);
  ReadKey(meta, "seed", &m.seed);
  ReadKey(meta, "eval_name", &m.eval_name);
  if (meta.contains("target_mean")) {
    TargetScaler scaler;
    ReadKey(meta, "target_mean", &scaler.mean);
    ReadKey(meta, "target_stddev", &scaler.stddev);
    m.target_scaler = scaler;
  }
  if (meta.contains("feature_mean")) {
    // The width is checked by FeatureNormalizer, which knows the data's.
    ReadKey(meta, "feature_mean", &m.feature_mean);
    ReadKey(meta, "feature_stddev", &m.feature_stddev);
  }
  if (meta.contains("compression")) m.compression = meta.at("compression");
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    if (std::find(std::begin(kOwnKeys), std::end(kOwnKeys), it.key()) == std::end(kOwnKeys)) {
      m.extra[it.key()] = it.value();
    }
  }
  return m;
}

ModelMetadata ReadModelMetadata(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "model.json").string();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(ReadFile(path));
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw Error(path + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object()) throw Error(path + ": expected a JSON object");
  return ModelMetadata::FromJson(doc.value("metadata", nlohmann::json::object()));
}

}  // namespace joule
