// Checkpoint files of a training run (see CheckpointOptions in train.hpp for
// what they hold and why that is enough for a bitwise resume).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "joule/train.hpp"

namespace joule::train_internal {

// The run's counters at an epoch boundary, beside the tensors.
struct CheckpointState {
  int epoch = 0;  // the last finished epoch
  std::int64_t step = 0;
  double lr = 0;
  double lr_scale = 1;
  std::int64_t next_batch_size = 0;
  double energy_j = 0, co2_g = 0;
  std::uint64_t seed = 0;
  std::vector<EpochStats> history;
};

// DIR/checkpoint-epoch-NNNN.safetensors.
std::string CheckpointPath(const std::string& dir, int epoch);

// The checkpoint with the highest epoch in `dir`; none when the directory
// does not exist or holds none.
std::optional<std::string> LatestCheckpoint(const std::string& dir);

// Writes atomically, creating `dir` when needed. Throws Error naming the path.
void WriteCheckpoint(const std::string& dir, const CheckpointState& state, Sequential& model,
                     Optimizer& optimizer, const std::vector<Callback*>& callbacks);

// Reads `path` into the model, the optimizer (whose State() must already list
// every tensor: Fit primes it with one zero-lr step) and the callbacks, and
// returns the counters. Throws Error naming the file and the mismatch when the
// checkpoint's architecture, seed, tensors or callbacks differ from this run's.
CheckpointState ReadCheckpoint(const std::string& path, std::uint64_t seed, Sequential& model,
                               Optimizer& optimizer, const std::vector<Callback*>& callbacks);

nlohmann::json EpochStatsToJson(const EpochStats& s);
EpochStats EpochStatsFromJson(const nlohmann::json& j);

}  // namespace joule::train_internal
