// joule/compress/distill.hpp: knowledge distillation (a small student trained
// on a teacher's softened outputs) and the training options and results it
// shares with early-exit training (joule/compress/early_exit.hpp).
//
// Fit's plain step hands the loss only the model's output and the labels;
// distillation also needs the teacher's logits for the same rows, and early
// exit trains several heads. So both train with Fit (joule/train.hpp) through
// its step hook: their step computes forward, loss and backward, Fit does the
// rest (batches, a cosine learning rate, one evaluation per epoch, the meter).
//
// Nothing here is thread safe: one run is driven by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "joule/compress/inference.hpp"
#include "joule/nn.hpp"
#include "joule/train.hpp"

namespace joule {

// alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(s, labels),
// the mean over the batch, for student logits s = pred [B, C], teacher logits
// t [B, C] and labels = target [B] (class ids as f32). T^2 keeps the soft
// term's gradient (which scales as 1 / T) comparable across temperatures
// (Hinton et al., 2015). Compute writes dL/ds into grad:
//   alpha * T * (softmax(s / T) - softmax(t / T)) / B
//   + (1 - alpha) * (softmax(s) - onehot(labels)) / B.
// Call set_teacher_logits for each batch before Compute.
class DistillationLoss final : public Loss {
 public:
  // Throws Error unless temperature is finite and > 0 and alpha is in [0, 1].
  DistillationLoss(double temperature, double alpha);
  std::string name() const override { return "distillation"; }
  // The teacher's logits of the batch about to be computed. The tensor is
  // aliased, not copied: it must stay unchanged until Compute returns.
  void set_teacher_logits(const Tensor& logits) { teacher_ = logits; }
  // Throws Error when no teacher logits were set, their shape differs from
  // pred's, or a label is not a class id of pred (what cross-entropy throws).
  double Compute(const Tensor& pred, const Tensor& target, Tensor& grad) override;
  double temperature() const { return temperature_; }
  double alpha() const { return alpha_; }

 private:
  double temperature_, alpha_;
  Tensor teacher_;
  std::unique_ptr<Loss> cross_entropy_;
  Tensor ce_grad_;
};

// ---------------------------------------------------------------------------
// Training the compression methods' models (on Fit, see above).

struct CompressEpochStats {
  int epoch = 0;              // 1-based
  double train_loss = 0;      // mean over the epoch's rows
  double train_accuracy = 0;  // of the model's (final exit's) output
  EvalResult eval;            // the validation split if there is one, else the eval set
  std::string eval_name;      // "validation", "test" or "holdout"
  double seconds = 0;         // the epoch's steps and its evaluation
  double lr = 0;              // the lr of the epoch's last step
};

struct CompressTrainOptions {
  int epochs = 10;
  std::int64_t batch_size = 128;
  // What joule train uses for MNIST (SGD, momentum 0.9, lr 0.05).
  OptimizerConfig optimizer{.kind = "sgd", .lr = 0.05, .momentum = 0.9};
  bool cosine_lr = true;   // lr = base x (1 + cos(pi x progress)) / 2, per step
  std::uint64_t seed = 1;  // the batch order
  // Null: not metered (energy_j stays 0 and energy_method ""). Not owned.
  const MeteringOptions* metering = nullptr;
  std::function<void(const CompressEpochStats&)> on_epoch;  // may be empty
};

struct CompressTrainResult {
  std::vector<CompressEpochStats> history;
  std::int64_t steps = 0;
  double seconds = 0;  // the whole run, evaluations included
  // The run's energy attributed to this process, with its method label
  // ("estimated:tdp-model" without sensors); metered() false when not metered.
  EnergyReport energy;
};

// ---------------------------------------------------------------------------
// Distillation.

struct DistillOptions {
  double temperature = 4;  // T > 0
  double alpha = 0.9;      // weight of the soft (teacher) term, [0, 1]
};

// An MLP student for `input_shape` ([N, ...]): Linear layers of the given
// widths, each followed by ReLU, then Linear(last, classes). Kaiming-uniform
// from rng. Throws Error for an empty `hidden` or a width < 1.
Sequential MakeStudentMlp(const Shape& input_shape, const std::vector<std::int64_t>& hidden,
                          std::int64_t classes, Rng& rng);

// Trains `student` on data.train. With a teacher, on DistillationLoss(T,
// alpha) against the teacher's logits (the teacher runs in inference mode on
// each batch and is not changed); with teacher == nullptr, on plain
// cross-entropy, the baseline with the same budget. Evaluates after each
// epoch (plain accuracy). Deterministic for a given seed and thread count.
// Throws Error for epochs < 1, batch_size < 1, a teacher whose output width
// differs from the student's, or a diverging loss (naming the epoch).
CompressTrainResult TrainStudent(Sequential& student, Sequential* teacher,
                                 const DistillOptions& distill, const PreparedData& data,
                                 const CompressTrainOptions& options);

}  // namespace joule
