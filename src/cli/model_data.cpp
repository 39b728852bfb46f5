#include "cli/model_data.hpp"

#include <filesystem>

namespace joule::cli {

nlohmann::json ReadModelMetadata(const std::string& model_dir) {
  const std::string path = (std::filesystem::path(model_dir) / "model.json").string();
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(ReadFile(path));
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e400
    throw Error(path + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object()) throw Error(path + ": expected a JSON object");
  nlohmann::json meta = doc.value("metadata", nlohmann::json::object());
  return meta.is_object() ? meta : nlohmann::json::object();
}

Dataset LoadDataForModel(const nlohmann::json& meta, const std::string& data,
                         const std::string& target_flag, TargetScaler* scaler) {
  const std::string task = meta.value("task", "classification");
  const std::string target = target_flag.empty() ? meta.value("target", "") : target_flag;
  // CSV models carry their feature and target standardisation; the whole
  // file is evaluated through the same transforms the model was trained with.
  Dataset d;
  if (data.size() > 4 && data.substr(data.size() - 4) == ".csv") {
    d = LoadCsv(data, target, task == "regression" ? Task::kRegression : Task::kClassification);
    if (meta.contains("target_mean")) {
      scaler->mean = meta["target_mean"].get<float>();
      scaler->stddev = meta["target_stddev"].get<float>();
      scaler->Apply(d);
    }
  } else {
    d = data == "mnist" ? LoadMnist(false) : LoadIdxDir(data, false);
  }
  Normalizer n;
  try {
    n = ReadNormalizer(meta, d.features());
  } catch (const Error& e) {
    throw Error(data + ": " + e.what());
  }
  if (!n.mean.empty()) n.Apply(d);
  return d;
}

}  // namespace joule::cli
