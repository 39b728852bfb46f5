// A pruning job: prune (one shot or gradually), fine-tune, evaluate. Shared by
// `joule compress prune` and the integration tests.
#include <algorithm>
#include <cmath>
#include <limits>

#include "compress/prune_internal.hpp"
#include "joule/compress/prune.hpp"

namespace joule {
namespace {

void CheckOptions(const PruneJobOptions& o, const PreparedData& data) {
  if (!(o.sparsity >= 0 && o.sparsity < 1)) {
    throw Error("--sparsity " + std::to_string(o.sparsity) +
                " is out of range: expected a fraction in [0, 1), e.g. 0.9");
  }
  if (o.schedule != "oneshot" && o.schedule != "cubic") {
    throw Error("--schedule '" + o.schedule + "' is unknown: expected oneshot or cubic");
  }
  if (o.epochs < 0 || (o.schedule == "cubic" && o.epochs < 1)) {
    throw Error("--epochs " + std::to_string(o.epochs) + " is out of range: expected >= 0 " +
                "(>= 1 with --schedule cubic, which prunes during fine-tuning)");
  }
  if (!(o.lr > 0 && std::isfinite(o.lr))) {
    throw Error("--lr " + std::to_string(o.lr) + " must be a positive number, e.g. 0.01");
  }
  if (o.batch_size < 1) throw Error("pruning batch_size must be >= 1");
  if (data.train.task != Task::kClassification) {
    throw Error(
        "pruning fine-tunes with cross-entropy: it needs classification data, got a "
        "regression dataset");
  }
}

double Accuracy(Sequential& model, const PreparedData& data) {
  std::unique_ptr<Loss> loss = MakeSoftmaxCrossEntropy();
  return Evaluate(model, *loss, data.eval, data.target_scaler).accuracy;
}

std::int64_t NonzeroParameters(Sequential& model) {
  std::int64_t n = 0;
  for (Parameter* p : model.Parameters()) {
    const float* d = p->value.f32();
    for (std::int64_t i = 0; i < p->value.numel(); ++i) n += d[i] != 0.0f ? 1 : 0;
  }
  return n;
}

std::string Widths(Sequential& model) {
  std::string out;
  for (std::size_t i : PrunableLayers(model)) {
    const Tensor& w = prune_internal::WeightOf(model.layer(i));
    if (out.empty()) {
      const std::int64_t window = w.rank() == 4 ? w.dim(2) * w.dim(3) : 1;
      out = std::to_string(w.numel() / w.dim(0) / window);
    }
    // Appended piecewise: GCC 12 reports a false -Wrestrict on "-" + to_string().
    out += '-';
    out += std::to_string(w.dim(0));
  }
  return out;
}

// The cubic schedule over the first 70% of the fine-tuning steps: Zhu &
// Gupta leave the last stretch at the final sparsity so the network recovers.
PruneSchedule CubicSchedule(const PruneJobOptions& o, const PreparedData& data) {
  const std::int64_t steps_per_epoch = (data.train.rows() + o.batch_size - 1) / o.batch_size;
  const std::int64_t span = std::max<std::int64_t>(1, steps_per_epoch * o.epochs * 7 / 10);
  PruneSchedule s;
  s.initial_sparsity = 0;
  s.final_sparsity = o.sparsity;
  s.updates = std::min<std::int64_t>(20, span);
  s.frequency = span / s.updates;
  return s;
}

FitResult FineTune(Sequential& model, const PreparedData& data, const PruneJobOptions& o,
                   Callback* pruning) {
  std::unique_ptr<Loss> loss = MakeSoftmaxCrossEntropy();
  std::unique_ptr<Optimizer> optimizer =
      MakeOptimizer({.kind = "sgd", .lr = o.lr, .momentum = 0.9});
  std::unique_ptr<Callback> schedule = MakeLrSchedule("cosine", {});
  FitOptions fit;
  fit.epochs = o.epochs;
  fit.batch_size = o.batch_size;
  fit.seed = o.seed;
  fit.metering = o.metering;
  fit.callbacks.push_back(schedule.get());
  // After the lr schedule: the masks are re-applied after every step.
  if (pruning != nullptr) fit.callbacks.push_back(pruning);
  return Fit(model, *loss, *optimizer, data, fit);
}

}  // namespace

PruneJobResult PruneAndFineTune(Sequential model, const PreparedData& data,
                                const PruneJobOptions& o) {
  CheckOptions(o, data);
  PruneJobResult r;
  r.accuracy_before = Accuracy(model, data);
  r.parameters_before = model.ParameterCount();
  GradualPruningOptions g;
  g.structured = o.structured;
  g.scope = o.scope;
  g.norm = o.norm;
  std::unique_ptr<GradualPruning> pruning;
  if (o.schedule == "cubic") {
    r.accuracy_pruned = std::numeric_limits<double>::quiet_NaN();
    g.schedule = CubicSchedule(o, data);
    pruning = std::make_unique<GradualPruning>(g);
  } else if (o.structured) {
    StructuredPlan plan = RankUnits(model, o.sparsity, o.scope, o.norm);
    r.unit_sparsity = UnitSparsity(plan);
    model = ShrinkModel(model, plan);
    r.accuracy_pruned = Accuracy(model, data);
  } else {
    ApplyMasks(model, MagnitudeMasks(model, o.sparsity, o.scope));
    r.accuracy_pruned = Accuracy(model, data);
    // Holds the same masks: the pruned weights are already the smallest.
    g.schedule = {.initial_sparsity = o.sparsity, .final_sparsity = o.sparsity};
    pruning = std::make_unique<GradualPruning>(g);
  }
  if (o.epochs > 0) r.fit = FineTune(model, data, o, pruning.get());
  if (o.structured && pruning) {
    r.unit_sparsity = UnitSparsity(pruning->plan());
    model = ShrinkModel(model, pruning->plan());
  }
  r.accuracy_after =
      o.epochs > 0 || o.schedule == "cubic" ? Accuracy(model, data) : r.accuracy_pruned;
  r.parameters_after = model.ParameterCount();
  r.nonzero_after = NonzeroParameters(model);
  r.weight_sparsity = WeightSparsity(model);
  r.architecture = Widths(model);
  r.model = std::move(model);
  return r;
}

}  // namespace joule
