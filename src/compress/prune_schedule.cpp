// Gradual magnitude pruning while fine-tuning: the cubic sparsity schedule of
// Zhu & Gupta (2017) as a Fit callback.
#include <algorithm>
#include <cmath>

#include "joule/compress/prune.hpp"

namespace joule {

void ValidatePruneSchedule(const PruneSchedule& s) {
  auto fraction = [](double v, const char* field) {
    if (!(v >= 0 && v < 1)) {
      throw Error(std::string("prune schedule: ") + field + " " + std::to_string(v) +
                  " is out of range: expected a fraction in [0, 1)");
    }
  };
  fraction(s.initial_sparsity, "initial_sparsity");
  fraction(s.final_sparsity, "final_sparsity");
  if (s.begin_step < 0 || s.frequency < 1 || s.updates < 0) {
    throw Error("prune schedule: need begin_step >= 0, frequency >= 1 and updates >= 0, got " +
                std::to_string(s.begin_step) + ", " + std::to_string(s.frequency) + ", " +
                std::to_string(s.updates));
  }
}

double ScheduledSparsity(const PruneSchedule& s, std::int64_t step) {
  if (step < s.begin_step) return s.initial_sparsity;
  const std::int64_t span = s.updates * s.frequency;
  if (span == 0 || step >= s.begin_step + span) return s.final_sparsity;
  const double left = 1.0 - static_cast<double>(step - s.begin_step) / static_cast<double>(span);
  return s.final_sparsity + (s.initial_sparsity - s.final_sparsity) * left * left * left;
}

GradualPruning::GradualPruning(const GradualPruningOptions& options) : options_(options) {
  ValidatePruneSchedule(options.schedule);
}

void GradualPruning::Update(Sequential& model, double sparsity) {
  current_ = sparsity;
  if (options_.structured) {
    plan_ = RankUnits(model, sparsity, options_.scope, options_.norm);
    MaskUnits(model, plan_);
  } else {
    masks_ = MagnitudeMasks(model, sparsity, options_.scope);
    ApplyMasks(model, masks_);
  }
}

void GradualPruning::Reapply(Sequential& model) {
  if (options_.structured) {
    MaskUnits(model, plan_);
  } else {
    ApplyMasks(model, masks_);
  }
}

void GradualPruning::OnTrainBegin(TrainContext& ctx) {
  Update(ctx.model(), ScheduledSparsity(options_.schedule, 0));
}

void GradualPruning::OnStepEnd(TrainContext& ctx, const StepStats& step) {
  const PruneSchedule& s = options_.schedule;
  const std::int64_t t = step.step;
  const bool on_schedule = t >= s.begin_step && t <= s.begin_step + s.updates * s.frequency &&
                           (t - s.begin_step) % s.frequency == 0;
  if (on_schedule) {
    Update(ctx.model(), ScheduledSparsity(s, t));
  } else {
    Reapply(ctx.model());
  }
}

void GradualPruning::SaveState(CallbackState& out) const {
  out.values["sparsity"] = current_;
  if (options_.structured) {
    nlohmann::json plan = nlohmann::json::array();
    for (const UnitSelection& sel : plan_) {
      plan.push_back({{"layer", sel.layer}, {"units", sel.units}, {"kept", sel.kept}});
    }
    out.values["plan"] = plan;
  } else {
    for (const WeightMask& m : masks_) {
      out.tensors.emplace_back("mask." + std::to_string(m.layer), m.mask);
    }
  }
}

void GradualPruning::LoadState(const CallbackState& in) {
  try {
    current_ = in.values.at("sparsity").get<double>();
    plan_.clear();
    masks_.clear();
    if (options_.structured) {
      for (const auto& sel : in.values.at("plan")) {
        plan_.push_back({sel.at("layer").get<std::size_t>(), sel.at("units").get<std::int64_t>(),
                         sel.at("kept").get<std::vector<std::int64_t>>()});
      }
    } else {
      for (const auto& [name, tensor] : in.tensors) {
        masks_.push_back({static_cast<std::size_t>(std::stoul(name.substr(5))), tensor});
      }
    }
  } catch (const std::exception& e) {
    throw Error(std::string("gradual-pruning checkpoint state is malformed (") + e.what() +
                "); resume with the checkpoint written by the same pruning run");
  }
}

}  // namespace joule
