// The training run whose checkpoints checkpoint_fuzz reads, shared with
// seed_writer so that the seeds fit it: a Linear(4 -> 3) model, Adam primed
// the way Fit primes it, and one EarlyStopping callback (whose state carries
// tensors), all with seed kCheckpointSeed.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "joule/nn.hpp"
#include "joule/train.hpp"
#include "joule/util.hpp"

namespace joule::fuzz {

inline constexpr std::uint64_t kCheckpointSeed = 42;

struct CheckpointRun {
  Sequential model;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<EarlyStopping> early_stopping;
  std::vector<Callback*> callbacks;

  CheckpointRun() {
    Rng rng(kCheckpointSeed);
    model.Add(MakeLinear(4, 3, rng));
    OptimizerConfig config;
    config.kind = "adam";
    optimizer = MakeOptimizer(config);
    // As Fit does before a resume: one step at lr 0 on zero gradients makes
    // State() list every tensor.
    for (Parameter* p : model.Parameters()) {
      p->grad.Resize(p->value.shape(), DType::kF32);
      p->grad.Zero();
    }
    double lr = optimizer->lr();
    optimizer->set_lr(0);
    optimizer->Step(model.Parameters());
    optimizer->set_lr(lr);
    EarlyStoppingOptions stopping;
    stopping.enabled = true;
    early_stopping = std::make_unique<EarlyStopping>(stopping);
    callbacks = {early_stopping.get()};
  }
};

}  // namespace joule::fuzz
