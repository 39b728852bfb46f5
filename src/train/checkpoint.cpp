// Checkpoints as safetensors: "model.*" (weights and buffers), "optimizer.*"
// (its State()), "callback.I.*" (each callback's tensors), and the counters,
// the history and the callbacks' JSON state in the metadata key
// "joule_checkpoint".
#include "train/checkpoint.hpp"

#include <cstdio>
#include <filesystem>
#include <map>
#include <system_error>

#include "joule/util.hpp"

namespace joule::train_internal {
namespace {

constexpr const char* kMetaKey = "joule_checkpoint";
constexpr int kFormat = 1;
constexpr const char* kPrefix = "checkpoint-epoch-";
constexpr const char* kSuffix = ".safetensors";

nlohmann::json EvalToJson(const EvalResult& e) {
  return {{"loss", e.loss},
          {"accuracy", e.accuracy},
          {"rmse", e.rmse},
          {"mae", e.mae},
          {"rows", e.rows}};
}

EvalResult EvalFromJson(const nlohmann::json& j) {
  EvalResult e;
  e.loss = j.at("loss").get<double>();
  e.accuracy = j.at("accuracy").get<double>();
  e.rmse = j.at("rmse").get<double>();
  e.mae = j.at("mae").get<double>();
  e.rows = j.at("rows").get<std::int64_t>();
  return e;
}

// A checkpoint and this run must describe the same thing; `what` names it.
[[noreturn]] void Mismatch(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what +
              "; resume with the configuration that wrote it, or point checkpoint.dir at a "
              "new directory");
}

}  // namespace

nlohmann::json EpochStatsToJson(const EpochStats& s) {
  return {{"epoch", s.epoch},
          {"train_loss", s.train_loss},
          {"train_accuracy", s.train_accuracy},
          {"eval", EvalToJson(s.eval)},
          {"eval_name", s.eval_name},
          {"seconds", s.seconds},
          {"batch_size", s.batch_size},
          {"steps", s.steps},
          {"lr", s.lr},
          {"loss_delta", s.loss_delta},
          {"partial", s.partial},
          {"energy_j", s.energy_j},
          {"co2_g", s.co2_g},
          {"total_energy_j", s.total_energy_j},
          {"total_co2_g", s.total_co2_g},
          {"energy_method", s.energy_method}};
}

EpochStats EpochStatsFromJson(const nlohmann::json& j) {
  EpochStats s;
  s.epoch = j.at("epoch").get<int>();
  s.train_loss = j.at("train_loss").get<double>();
  s.train_accuracy = j.at("train_accuracy").get<double>();
  s.eval = EvalFromJson(j.at("eval"));
  s.eval_name = j.at("eval_name").get<std::string>();
  s.seconds = j.at("seconds").get<double>();
  s.batch_size = j.at("batch_size").get<std::int64_t>();
  s.steps = j.at("steps").get<std::int64_t>();
  s.lr = j.at("lr").get<double>();
  s.loss_delta = j.at("loss_delta").get<double>();
  s.partial = j.at("partial").get<bool>();
  s.energy_j = j.at("energy_j").get<double>();
  s.co2_g = j.at("co2_g").get<double>();
  s.total_energy_j = j.at("total_energy_j").get<double>();
  s.total_co2_g = j.at("total_co2_g").get<double>();
  s.energy_method = j.at("energy_method").get<std::string>();
  return s;
}

std::string CheckpointPath(const std::string& dir, int epoch) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s%04d%s", kPrefix, epoch, kSuffix);
  return (std::filesystem::path(dir) / name).string();
}

std::optional<std::string> LatestCheckpoint(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return std::nullopt;
  int best = -1;
  std::string best_path;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    const std::string prefix = kPrefix, suffix = kSuffix;
    if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
        digits.size() > 9) {
      continue;
    }
    int epoch = std::stoi(digits);
    if (epoch > best) {
      best = epoch;
      best_path = entry.path().string();
    }
  }
  if (best < 0) return std::nullopt;
  return best_path;
}

void WriteCheckpoint(const std::string& dir, const CheckpointState& state, Sequential& model,
                     Optimizer& optimizer, const std::vector<Callback*>& callbacks) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw Error("checkpoint.dir " + dir + ": cannot create the directory: " + ec.message());
  }
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (auto& [name, tensor] : model.NamedTensors()) tensors.emplace_back("model." + name, tensor);
  for (auto& [name, tensor] : optimizer.State()) {
    tensors.emplace_back("optimizer." + name, tensor);
  }
  // Callback states are built into this vector first so the pointers handed to
  // the writer stay valid.
  std::vector<CallbackState> states(callbacks.size());
  nlohmann::json callback_json = nlohmann::json::array();
  for (std::size_t i = 0; i < callbacks.size(); ++i) {
    callbacks[i]->SaveState(states[i]);
    callback_json.push_back({{"name", callbacks[i]->name()}, {"values", states[i].values}});
  }
  for (std::size_t i = 0; i < callbacks.size(); ++i) {
    for (const auto& [name, tensor] : states[i].tensors) {
      tensors.emplace_back("callback." + std::to_string(i) + "." + name, &tensor);
    }
  }
  nlohmann::json history = nlohmann::json::array();
  for (const EpochStats& s : state.history) history.push_back(EpochStatsToJson(s));
  nlohmann::json meta = {{"format", kFormat},
                         {"epoch", state.epoch},
                         {"step", state.step},
                         {"lr", state.lr},
                         {"lr_scale", state.lr_scale},
                         {"next_batch_size", state.next_batch_size},
                         {"energy_j", state.energy_j},
                         {"co2_g", state.co2_g},
                         // As a string: JSON readers elsewhere may hold only 53-bit integers.
                         {"seed", std::to_string(state.seed)},
                         {"architecture", model.Architecture()},
                         {"callbacks", callback_json},
                         {"history", history}};
  WriteSafetensors(CheckpointPath(dir, state.epoch), tensors, {{kMetaKey, meta.dump()}});
}

CheckpointState ReadCheckpoint(const std::string& path, std::uint64_t seed, Sequential& model,
                               Optimizer& optimizer, const std::vector<Callback*>& callbacks) {
  nlohmann::json file_meta;
  std::vector<std::pair<std::string, Tensor>> tensors = ReadSafetensors(path, &file_meta);
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(file_meta.at(kMetaKey).get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": not a joule checkpoint (metadata '" + kMetaKey +
                "' missing or not JSON: " + e.what() + ")");
  }
  CheckpointState state;
  std::vector<CallbackState> callback_states(callbacks.size());
  try {
    if (meta.at("format").get<int>() != kFormat) {
      throw Error(path + ": checkpoint format " + meta.at("format").dump() + ", expected " +
                  std::to_string(kFormat));
    }
    state.epoch = meta.at("epoch").get<int>();
    state.step = meta.at("step").get<std::int64_t>();
    state.lr = meta.at("lr").get<double>();
    state.lr_scale = meta.at("lr_scale").get<double>();
    state.next_batch_size = meta.at("next_batch_size").get<std::int64_t>();
    state.energy_j = meta.at("energy_j").get<double>();
    state.co2_g = meta.at("co2_g").get<double>();
    state.seed = std::stoull(meta.at("seed").get<std::string>());
    for (const nlohmann::json& h : meta.at("history")) {
      state.history.push_back(EpochStatsFromJson(h));
    }
    if (meta.at("architecture") != model.Architecture()) {
      Mismatch(path, "the checkpoint's model architecture differs from this run's");
    }
    if (state.seed != seed) {
      Mismatch(path, "the checkpoint was written with seed " + std::to_string(state.seed) +
                         ", this run has seed " + std::to_string(seed));
    }
    const nlohmann::json& cbs = meta.at("callbacks");
    std::string theirs, ours;
    for (const nlohmann::json& c : cbs)
      theirs += (theirs.empty() ? "" : ", ") + c.at("name").get<std::string>();
    for (const Callback* c : callbacks) ours += (ours.empty() ? "" : ", ") + c->name();
    if (theirs != ours) {
      Mismatch(path,
               "the checkpoint's callbacks are [" + theirs + "], this run's are [" + ours + "]");
    }
    for (std::size_t i = 0; i < callbacks.size(); ++i)
      callback_states[i].values = cbs[i].at("values");
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": malformed checkpoint metadata: " + e.what());
  } catch (const std::invalid_argument&) {
    throw Error(path + ": malformed checkpoint metadata: seed is not a number");
  }

  std::map<std::string, Tensor*> wanted;
  for (auto& [name, tensor] : model.NamedTensors()) wanted["model." + name] = tensor;
  for (auto& [name, tensor] : optimizer.State()) wanted["optimizer." + name] = tensor;
  std::size_t found = 0;
  for (auto& [name, tensor] : tensors) {
    if (name.rfind("callback.", 0) == 0) {
      std::size_t dot = name.find('.', 9);
      std::string digits = dot == std::string::npos ? "" : name.substr(9, dot - 9);
      std::size_t index = callbacks.size();
      if (!digits.empty() && digits.size() < 6 &&
          digits.find_first_not_of("0123456789") == std::string::npos) {
        index = std::stoul(digits);
      }
      if (index >= callbacks.size())
        Mismatch(path, "tensor '" + name + "' names no callback of this run");
      callback_states[index].tensors.emplace_back(name.substr(dot + 1), std::move(tensor));
      continue;
    }
    auto it = wanted.find(name);
    if (it == wanted.end()) Mismatch(path, "tensor '" + name + "' has no place in this run");
    if (it->second->shape() != tensor.shape() || it->second->dtype() != tensor.dtype()) {
      Mismatch(path, "tensor '" + name + "' is " + DTypeName(tensor.dtype()) + " " +
                         ShapeString(tensor.shape()) + " but this run's is " +
                         DTypeName(it->second->dtype()) + " " + ShapeString(it->second->shape()));
    }
    it->second->CopyFrom(tensor);
    ++found;
  }
  if (found != wanted.size()) {
    Mismatch(path, "the checkpoint holds " + std::to_string(found) + " of this run's " +
                       std::to_string(wanted.size()) + " model and optimizer tensors");
  }
  for (std::size_t i = 0; i < callbacks.size(); ++i) {
    try {
      callbacks[i]->LoadState(callback_states[i]);
    } catch (const nlohmann::json::exception& e) {
      throw Error(path + ": malformed state of callback '" + callbacks[i]->name() +
                  "': " + e.what());
    }
  }
  return state;
}

}  // namespace joule::train_internal
