// joule/compress/prune.hpp: magnitude pruning.
//
// Unstructured pruning zeroes individual weights of Linear and Conv2d layers
// (the smallest |w|), either over all those weights at once (global) or layer
// by layer. The model keeps its shape; SaveModel stores such weights in a
// sparse layout (see nn.hpp), so the gain is size on disk.
//
// Structured pruning removes whole output units: neurons of a Linear, output
// channels of a Conv2d, ranked by the norm of their weights. ShrinkModel then
// builds a smaller dense Sequential, so the gain is speed as well as size.
//
// Both can be done at once (one shot) or gradually while fine-tuning with the
// cubic schedule of Zhu & Gupta (2017), as a Callback for Fit.
//
// Nothing here is thread safe; every function works on one model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "joule/compress/inference.hpp"

namespace joule {

// global: one threshold over every prunable weight (or unit) of the model;
// layer: each layer pruned to the requested sparsity on its own.
enum class PruneScope { kGlobal, kLayer };
// "global" | "layer"; throws Error naming `flag` and the value otherwise.
PruneScope ParsePruneScope(const std::string& name, const std::string& flag = "--scope");
const char* PruneScopeName(PruneScope scope);

// The norm that ranks a unit's weights (its row of a Linear weight, its
// [C, KH, KW] filter of a Conv2d weight).
enum class UnitNorm { kL1, kL2 };

// ---------------------------------------------------------------------------
// Unstructured
// ---------------------------------------------------------------------------

// The 0/1 mask (f32, the weight's shape) of the "weight" of layer `layer`.
struct WeightMask {
  std::size_t layer = 0;
  Tensor mask;
};

// Indices of the layers unstructured pruning touches: every Linear and
// Conv2d (their weights, never their biases).
std::vector<std::size_t> PrunableLayers(Sequential& model);

// Masks that zero exactly k = round(sparsity x n) weights with the smallest
// |w|: n counts every prunable weight of the model (global) or of each layer
// (layer; then every layer gets its own k). Ties in |w| are broken by
// position (layer order, then row-major index: the earlier weight is pruned
// first), so the result is deterministic. Does not modify the model.
// Throws Error unless sparsity is in [0, 1) or the model has no Linear/Conv2d.
std::vector<WeightMask> MagnitudeMasks(Sequential& model, double sparsity, PruneScope scope);

// Multiplies each masked weight by its mask. Masks must come from this model
// (same layers and shapes; JOULE_ASSERT).
void ApplyMasks(Sequential& model, const std::vector<WeightMask>& masks);

// Zeros / total over the weights of PrunableLayers.
double WeightSparsity(Sequential& model);

// ---------------------------------------------------------------------------
// Structured
// ---------------------------------------------------------------------------

// The output units (neurons, channels) of one layer that survive, ascending.
struct UnitSelection {
  std::size_t layer = 0;
  std::int64_t units = 0;          // before pruning
  std::vector<std::int64_t> kept;  // ascending, never empty
};
using StructuredPlan = std::vector<UnitSelection>;

// The layers whose output units structured pruning may remove: each Linear
// or Conv2d whose output reaches another Linear/Conv2d through layers that
// act per unit (activations, Dropout, pooling, BatchNorm, Flatten). The
// model's last Linear (its outputs are the classes) is never one of them.
std::vector<std::size_t> StructurallyPrunableLayers(Sequential& model);

// Ranks the units of every layer of StructurallyPrunableLayers by the norm of
// their weights and drops the lowest: layer scope drops round(sparsity x
// units) of each layer (at most units - 1); global scope drops round(sparsity
// x all units) over the layers by one ranking, comparing each unit's norm
// divided by its weight count (mean |w| for L1, RMS for L2, so that layers
// with different fan-in compare fairly), always keeping one unit per layer.
// Ties: the lower unit index survives. Throws Error unless sparsity is in
// [0, 1), or when the model has nothing structured pruning can remove.
StructuredPlan RankUnits(Sequential& model, double sparsity, PruneScope scope,
                         UnitNorm norm = UnitNorm::kL1);

// The masked dense equivalent of the plan: zeroes each dropped unit's weight
// row / filter and bias, its BatchNorm gamma and beta, and the next
// Linear/Conv2d's input columns / channels fed by it, so the dropped unit
// no longer influences the output whatever the activation. ShrinkModel's
// model computes the same function (up to float summation order).
void MaskUnits(Sequential& model, const StructuredPlan& plan);

// A new, smaller dense model without the dropped units: kept rows of the
// pruned layer's weight and bias; of a following BatchNorm its gamma, beta,
// running mean and variance; of the next Conv2d its input channels, of the
// next Linear its input columns (after a Conv2d, channel c owns the block of
// in / channels consecutive features that Flatten puts there). Every other
// tensor is copied. `model` is not modified. Throws Error when the plan does
// not fit the model (layer index, unit count).
Sequential ShrinkModel(Sequential& model, const StructuredPlan& plan);

// Units dropped / units before, over the plan's layers.
double UnitSparsity(const StructuredPlan& plan);

// ---------------------------------------------------------------------------
// Gradual pruning (Zhu & Gupta, "To prune, or not to prune", 2017)
// ---------------------------------------------------------------------------

// s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3 for t0 <= t <= t0 + n dt,
// s_i before t0 and s_f after; t counts optimizer steps done. With n = 0 the
// schedule is a step to s_f at t0 (one shot).
struct PruneSchedule {
  double initial_sparsity = 0;  // s_i in [0, 1)
  double final_sparsity = 0.5;  // s_f in [0, 1)
  std::int64_t begin_step = 0;  // t0 >= 0
  std::int64_t frequency = 1;   // dt >= 1: steps between mask updates
  std::int64_t updates = 0;     // n >= 0: mask updates after t0
};
// Throws Error naming the field for a value out of range.
void ValidatePruneSchedule(const PruneSchedule& schedule);
double ScheduledSparsity(const PruneSchedule& schedule, std::int64_t step);

struct GradualPruningOptions {
  PruneSchedule schedule;
  bool structured = false;
  PruneScope scope = PruneScope::kGlobal;
  UnitNorm norm = UnitNorm::kL1;
};

// A Fit callback. At the start of the run (step 0) and after each step t that
// is t0 + k dt (k = 0..n) it recomputes the masks from the weights at
// sparsity s_t (structured: RankUnits then MaskUnits); after every optimizer
// step it re-applies the current masks, so pruned weights stay exactly zero.
// Since a pruned weight is 0, it ranks lowest at the next update: the pruned
// set only grows while s_t grows. Structured pruning stays masked here; call
// ShrinkModel(model, plan()) after Fit for the smaller model. The state
// (current sparsity and masks) is saved in checkpoints.
// Throws Error for a bad schedule (at construction).
class GradualPruning final : public Callback {
 public:
  explicit GradualPruning(const GradualPruningOptions& options);
  std::string name() const override { return "gradual-pruning"; }
  void OnTrainBegin(TrainContext& ctx) override;
  void OnStepEnd(TrainContext& ctx, const StepStats& step) override;
  void SaveState(CallbackState& out) const override;
  void LoadState(const CallbackState& in) override;

  double current_sparsity() const { return current_; }
  // The structured plan of the last update (empty for unstructured).
  const StructuredPlan& plan() const { return plan_; }
  const std::vector<WeightMask>& masks() const { return masks_; }

 private:
  void Update(Sequential& model, double sparsity);
  void Reapply(Sequential& model);

  GradualPruningOptions options_;
  double current_ = -1;  // < 0: no masks yet
  std::vector<WeightMask> masks_;
  StructuredPlan plan_;
};

// ---------------------------------------------------------------------------
// A whole pruning job (what `joule compress prune` runs)
// ---------------------------------------------------------------------------

struct PruneJobOptions {
  double sparsity = 0.5;  // [0, 1): of weights (unstructured) or units (structured)
  bool structured = false;
  PruneScope scope = PruneScope::kGlobal;
  UnitNorm norm = UnitNorm::kL1;
  // "oneshot": prune, then fine-tune with the masks held (structured: the
  // shrunk model is fine-tuned). "cubic": GradualPruning from 0 to sparsity
  // over the first 70% of the fine-tuning steps in up to 20 updates
  // (structured: masked, shrunk at the end); needs epochs >= 1.
  std::string schedule = "oneshot";
  int epochs = 2;    // fine-tuning epochs, >= 0
  double lr = 0.01;  // SGD, momentum 0.9, cosine decay over the fine-tuning
  std::int64_t batch_size = 128;
  std::uint64_t seed = 1;
  const MeteringOptions* metering = nullptr;  // null: fine-tuning not metered
};

struct PruneJobResult {
  Sequential model;  // the pruned (structured: shrunk) and fine-tuned model
  double accuracy_before = 0;
  // After pruning, before fine-tuning; NaN for "cubic" (pruning happens
  // during the fine-tuning).
  double accuracy_pruned = 0;
  double accuracy_after = 0;  // after fine-tuning (== accuracy_pruned for 0 epochs)
  std::int64_t parameters_before = 0, parameters_after = 0;
  std::int64_t nonzero_after = 0;  // nonzero parameters of the final model
  double weight_sparsity = 0;      // WeightSparsity of the final model
  double unit_sparsity = 0;        // structured: UnitSparsity of the plan
  std::string architecture;        // e.g. "784-128-64-10" for an MLP; layer widths
  FitResult fit;                   // empty history for 0 epochs
};

// Prunes `model` as `options` says and fine-tunes it on data.train with
// cross-entropy (classification only), evaluating on data.eval. Throws Error
// for bad options (naming the field), for regression data, and whatever
// pruning or Fit throws.
PruneJobResult PruneAndFineTune(Sequential model, const PreparedData& data,
                                const PruneJobOptions& options);

}  // namespace joule
