// Learning-rate schedules as callbacks. Each computes the schedule's value
// before every step and sets lr = value x ctx.lr_scale(), so a schedule and
// the adaptive batch size's lr scaling compose.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "joule/train.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

constexpr double kPi = 3.141592653589793;

std::string Num(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", value);
  return buffer;
}

// (1 + cos(pi t)) / 2 from 1 at t = 0 to 0 at t = 1.
double HalfCosine(double t) { return 0.5 * (1.0 + std::cos(kPi * t)); }

// A schedule whose value depends only on where the run is (no state).
class StatelessSchedule : public Callback {
 public:
  explicit StatelessSchedule(std::string kind) : kind_(std::move(kind)) {}
  std::string name() const override { return "lr-" + kind_; }
  void OnStepBegin(TrainContext& ctx) override { ctx.set_lr(Value(ctx) * ctx.lr_scale()); }
  virtual double Value(const TrainContext& ctx) const = 0;

 private:
  std::string kind_;
};

class ConstantSchedule final : public StatelessSchedule {
 public:
  ConstantSchedule() : StatelessSchedule("constant") {}
  double Value(const TrainContext& ctx) const override { return ctx.base_lr(); }
};

class StepSchedule final : public StatelessSchedule {
 public:
  StepSchedule(int step_epochs, double gamma)
      : StatelessSchedule("step"), step_epochs_(step_epochs), gamma_(gamma) {}
  double Value(const TrainContext& ctx) const override {
    int decays = std::max(0, ctx.epoch() - 1) / step_epochs_;
    return ctx.base_lr() * std::pow(gamma_, decays);
  }

 private:
  int step_epochs_;
  double gamma_;
};

class CosineSchedule final : public StatelessSchedule {
 public:
  explicit CosineSchedule(double min_lr) : StatelessSchedule("cosine"), min_lr_(min_lr) {}
  double Value(const TrainContext& ctx) const override {
    return min_lr_ + (ctx.base_lr() - min_lr_) * HalfCosine(ctx.progress());
  }

 private:
  double min_lr_;
};

class OneCycleSchedule final : public StatelessSchedule {
 public:
  OneCycleSchedule(double pct_start, double div_factor, double final_div_factor)
      : StatelessSchedule("one-cycle"),
        pct_start_(pct_start),
        div_factor_(div_factor),
        final_div_factor_(final_div_factor) {}
  double Value(const TrainContext& ctx) const override {
    const double peak = ctx.base_lr();
    const double low = peak / div_factor_;
    const double end = low / final_div_factor_;
    const double p = ctx.progress();
    if (p < pct_start_) return peak + (low - peak) * HalfCosine(p / pct_start_);
    return end + (peak - end) * HalfCosine((p - pct_start_) / (1.0 - pct_start_));
  }

 private:
  double pct_start_, div_factor_, final_div_factor_;
};

// Stateful: the number of reductions so far depends on the metric's history,
// so it is saved in checkpoints.
class ReduceOnPlateau final : public Callback {
 public:
  explicit ReduceOnPlateau(const LrScheduleOptions& o)
      : options_(o),
        monitor_(o.monitor, "lr_schedule_options.monitor"),
        best_(std::numeric_limits<double>::quiet_NaN()) {}
  std::string name() const override { return "lr-reduce-on-plateau"; }

  void OnTrainBegin(TrainContext&) override {
    best_ = std::numeric_limits<double>::quiet_NaN();
    wait_ = 0;
    reductions_ = 0;
  }
  void OnStepBegin(TrainContext& ctx) override {
    double value =
        std::max(ctx.base_lr() * std::pow(options_.factor, reductions_), options_.min_lr);
    ctx.set_lr(value * ctx.lr_scale());
  }
  void OnEpochEnd(TrainContext& ctx, const EpochStats& stats) override {
    double value = monitor_.Value(stats, ctx.task());
    if (monitor_.Improves(value, best_, options_.min_delta, ctx.task())) {
      best_ = value;
      wait_ = 0;
      return;
    }
    if (++wait_ >= options_.patience) {
      ++reductions_;
      wait_ = 0;
    }
  }
  void SaveState(CallbackState& out) const override {
    out.values = {{"best", std::isnan(best_) ? nlohmann::json(nullptr) : nlohmann::json(best_)},
                  {"wait", wait_},
                  {"reductions", reductions_}};
  }
  void LoadState(const CallbackState& in) override {
    const nlohmann::json& b = in.values.at("best");
    best_ = b.is_null() ? std::numeric_limits<double>::quiet_NaN() : b.get<double>();
    wait_ = in.values.at("wait").get<int>();
    reductions_ = in.values.at("reductions").get<int>();
  }

 private:
  LrScheduleOptions options_;
  Monitor monitor_;
  double best_;
  int wait_ = 0, reductions_ = 0;
};

void RequireIn(const char* field, double value, double low, double high, bool low_open,
               bool high_open, const char* example) {
  bool ok = std::isfinite(value) && (low_open ? value > low : value >= low) &&
            (high_open ? value < high : value <= high);
  if (!ok) {
    throw Error(std::string("lr_schedule_options.") + field + " = " + Num(value) +
                ": expected a value in " + (low_open ? "(" : "[") + Num(low) + ", " +
                (std::isinf(high) ? "inf" : Num(high)) + (high_open ? ")" : "]") + " (e.g. " +
                example + ")");
  }
}

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

std::unique_ptr<Callback> MakeLrSchedule(const std::string& kind, const LrScheduleOptions& o) {
  if (kind == "constant") return std::make_unique<ConstantSchedule>();
  if (kind == "step") {
    if (o.step_epochs < 1) {
      throw Error("lr_schedule_options.step_epochs = " + std::to_string(o.step_epochs) +
                  ": expected epochs >= 1 (e.g. 10)");
    }
    RequireIn("gamma", o.gamma, 0, 1, true, false, "0.1");
    return std::make_unique<StepSchedule>(o.step_epochs, o.gamma);
  }
  if (kind == "cosine") {
    RequireIn("min_lr", o.min_lr, 0, kInf, false, true, "0");
    return std::make_unique<CosineSchedule>(o.min_lr);
  }
  if (kind == "one-cycle") {
    RequireIn("pct_start", o.pct_start, 0, 1, true, true, "0.3");
    RequireIn("div_factor", o.div_factor, 0, kInf, true, true, "25");
    RequireIn("final_div_factor", o.final_div_factor, 0, kInf, true, true, "1e4");
    return std::make_unique<OneCycleSchedule>(o.pct_start, o.div_factor, o.final_div_factor);
  }
  if (kind == "reduce-on-plateau") {
    RequireIn("factor", o.factor, 0, 1, true, true, "0.1");
    RequireIn("min_lr", o.min_lr, 0, kInf, false, true, "0");
    RequireIn("min_delta", o.min_delta, 0, kInf, false, true, "0");
    if (o.patience < 0) {
      throw Error("lr_schedule_options.patience = " + std::to_string(o.patience) +
                  ": expected a number of epochs >= 0 (e.g. 2)");
    }
    return std::make_unique<ReduceOnPlateau>(o);
  }
  throw Error("lr_schedule = '" + kind +
              "': unknown learning-rate schedule; expected constant, step, cosine, one-cycle or "
              "reduce-on-plateau");
}

}  // namespace joule
