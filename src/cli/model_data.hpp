// The evaluation data of a saved model, prepared the way the model was
// trained: the same feature standardisation (and, for regression, target
// scaling) read from the model's metadata. Shared by eval and bench-infer.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "joule/train.hpp"

namespace joule::cli {

// DIR/model.json's "metadata" object (empty when absent). Throws Error naming
// the file when it is missing or not JSON.
nlohmann::json ReadModelMetadata(const std::string& model_dir);

// `data`: "mnist" (its test split), an IDX directory (its t10k files) or a
// FILE.csv (every row; `target` defaults to the one in the metadata).
// Applies the metadata's feature_mean/feature_stddev and target_mean/
// target_stddev; *scaler receives the target scaling. Throws Error when the
// data's feature count differs from the model's.
Dataset LoadDataForModel(const nlohmann::json& meta, const std::string& data,
                         const std::string& target, TargetScaler* scaler);

}  // namespace joule::cli
