#include "cli/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "joule/util.hpp"

namespace joule::cli {
namespace {

std::string Printf(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

bool IsRegression(const EvalResult& e) { return e.accuracy == 0 && (e.rmse > 0 || e.mae > 0); }

std::string MetricText(const EvalResult& e) {
  if (e.rows == 0) return "";
  if (IsRegression(e)) {
    return Printf("rmse %.4g", e.rmse) + Printf(" mae %.4g", e.mae);
  }
  return Printf("acc %.2f%%", 100 * e.accuracy);
}

}  // namespace

std::string FormatJoules(double j) {
  double a = std::fabs(j);
  if (a < 10) return Printf("%.2f J", j);
  if (a < 1e4) return Printf("%.1f J", j);
  if (a < 1e7) return Printf("%.2f kJ", j / 1e3);
  return Printf("%.2f MJ", j / 1e6);
}

std::string FormatGrams(double g) {
  double a = std::fabs(g);
  if (a == 0) return "0 g";
  if (a < 1) return Printf("%.3g mg", g * 1e3);
  if (a < 1e3) return Printf("%.3g g", g);
  return Printf("%.3g kg", g / 1e3);
}

std::string FormatEpochLine(const EpochStats& s, int max_epochs, const std::string& label) {
  std::string line = label.empty() ? "" : label + ": ";
  char head[64];
  std::snprintf(head, sizeof head, "epoch %3d/%d  loss %.4f", s.epoch, max_epochs, s.train_loss);
  line += head;
  if (s.partial) {
    line += "  (partial: stopped inside the epoch)";
  } else if (s.eval.rows > 0) {
    line += "  " + s.eval_name + " " + MetricText(s.eval);
  }
  line += "  batch " + std::to_string(s.batch_size);
  line += Printf("  %.2f s", s.seconds);
  if (!s.energy_method.empty()) {
    line += "  " + FormatJoules(s.energy_j) + "  (so far " + FormatJoules(s.total_energy_j) + ", " +
            FormatGrams(s.total_co2_g) + "CO2eq)";
  }
  return line;
}

EpochPrinter::EpochPrinter(int max_epochs, std::string label)
    : EpochPrinter(max_epochs, std::move(label), isatty(STDERR_FILENO) == 1) {}

EpochPrinter::EpochPrinter(int max_epochs, std::string label, bool live)
    : max_epochs_(max_epochs), label_(std::move(label)), live_(live) {}

void EpochPrinter::Print(const EpochStats& s) { Note(FormatEpochLine(s, max_epochs_, label_)); }

void EpochPrinter::Note(const std::string& line) {
  // "\r\033[K" returns to the line's start and clears it, so the epoch's line
  // replaces the live one.
  std::fprintf(stderr, "%s%s\n", line_open_ ? "\r\033[K" : "", line.c_str());
  std::fflush(stderr);
  line_open_ = false;
}

void EpochPrinter::OnEpochBegin(TrainContext&) {
  loss_sum_ = 0;
  loss_rows_ = 0;
}

void EpochPrinter::OnStepEnd(TrainContext& ctx, const StepStats& step) {
  loss_sum_ += step.loss * static_cast<double>(step.rows);
  loss_rows_ += step.rows;
  if (!live_) return;
  double now = MonotonicSeconds();
  if (line_open_ && now - last_draw_s_ < 0.2) return;
  last_draw_s_ = now;
  double done = ctx.steps_in_epoch() > 0 ? static_cast<double>(ctx.step_in_epoch()) /
                                               static_cast<double>(ctx.steps_in_epoch())
                                         : 0;
  constexpr int kBar = 20;
  int filled = static_cast<int>(done * kBar);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(kBar, ' ');
  std::string line = label_.empty() ? "" : label_ + ": ";
  char head[96];
  std::snprintf(head, sizeof head, "epoch %3d/%d [%s] %3.0f%%  loss %.4f", ctx.epoch(), max_epochs_,
                bar.c_str(), 100 * done,
                loss_rows_ > 0 ? loss_sum_ / static_cast<double>(loss_rows_) : 0.0);
  line += head;
  if (ctx.metered()) {
    line += "  so far " + FormatJoules(ctx.energy_j()) + ", " + FormatGrams(ctx.co2_g()) + "CO2eq";
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  line_open_ = true;
}

nlohmann::json JobResultJson(const JobConfig& config, const JobResult& r) {
  nlohmann::json j = {{"model", config.model},
                      {"data", config.data},
                      {"precision", config.precision},
                      {"epochs", r.epochs},
                      {"steps", r.steps},
                      {"seconds", r.seconds},
                      {"parameters", r.parameters},
                      {"eval_set", r.eval_name},
                      {"loss", r.final_eval.loss},
                      {"energy_j", r.energy.energy_j},
                      {"machine_energy_j", r.energy.machine_energy_j},
                      {"energy_wh", r.energy.energy_j / 3600.0},
                      {"energy_method", r.energy.method},
                      {"energy_estimated", r.energy.estimated},
                      {"co2_g", r.energy.co2_g()},
                      {"intensity_g_per_kwh", r.energy.intensity_g_per_kwh},
                      {"intensity_source", r.energy.intensity_source},
                      {"pue", r.energy.pue},
                      {"stop_reason", StopReasonName(r.stop_reason)},
                      {"stop_message", r.stop_message},
                      {"notes", r.notes}};
  if (r.task == Task::kClassification) {
    j["test_accuracy"] = r.final_eval.accuracy;
  } else {
    j["rmse"] = r.final_eval.rmse;
    j["mae"] = r.final_eval.mae;
  }
  if (r.target_reached.has_value()) {
    j["target_reached"] = *r.target_reached;
    j["target_epoch"] = r.target_epoch;
  }
  if (r.best_epoch > 0) j["best_epoch"] = r.best_epoch;
  // The set the callbacks watched (validation when there is one), as of the
  // last complete epoch: what a search or tuner selects on, never the test set.
  for (auto e = r.history.rbegin(); e != r.history.rend(); ++e) {
    if (e->partial) continue;
    j["monitored"] = {{"set", e->eval_name}, {"epoch", e->epoch}, {"loss", e->eval.loss}};
    if (r.task == Task::kClassification) {
      j["monitored"]["accuracy"] = e->eval.accuracy;
    } else {
      j["monitored"]["rmse"] = e->eval.rmse;
    }
    break;
  }
  if (r.prediction) j["prediction"] = PredictionJson(r);
  if (r.resumed_from_epoch > 0) j["resumed_from_epoch"] = r.resumed_from_epoch;
  return j;
}

void PrintFinal(const JobConfig& config, const JobResult& r) {
  if (r.task == Task::kClassification) {
    std::printf("%s %s on %s: %s accuracy %.2f%% after %d epochs, %.1f s training\n",
                config.model.c_str(), config.precision.c_str(), config.data.c_str(),
                r.eval_name.c_str(), 100 * r.final_eval.accuracy, r.epochs, r.seconds);
  } else {
    std::printf("%s %s on %s: %s rmse %.6g, mae %.6g after %d epochs, %.1f s training\n",
                config.model.c_str(), config.precision.c_str(), config.data.c_str(),
                r.eval_name.c_str(), r.final_eval.rmse, r.final_eval.mae, r.epochs, r.seconds);
  }
  const EnergyReport& e = r.energy;
  if (e.metered()) {
    std::printf("energy %s (%.4g Wh, %s%s); %sCO2eq at %.0f g/kWh%s, %s\n",
                FormatJoules(e.energy_j).c_str(), e.energy_j / 3600.0, e.method.c_str(),
                e.estimated ? ": an estimate, not a measurement" : "",
                FormatGrams(e.co2_g()).c_str(), e.intensity_g_per_kwh,
                e.pue > 1 ? Printf(" x PUE %.2f", e.pue).c_str() : "", e.intensity_source.c_str());
  }
  std::string why = StopReasonName(r.stop_reason);
  if (r.target_reached.has_value() && !*r.target_reached) {
    // The user asked for a target and did not get it: say so in words, not
    // only as a stop reason.
    std::printf("target not reached: stopped at %s after %d epochs%s%s\n",
                r.stop_reason == StopReason::kEpochLimit ? "the epoch limit" : why.c_str(),
                r.epochs, r.stop_message.empty() ? "" : "; ", r.stop_message.c_str());
  } else if (r.stop_reason != StopReason::kEpochLimit) {
    std::printf("stopped early (%s)%s%s\n", why.c_str(), r.stop_message.empty() ? "" : ": ",
                r.stop_message.c_str());
  }
  if (r.prediction) {
    const CostPrediction& p = *r.prediction;
    std::printf("prediction after %d epoch%s: %s (%s to %s) by epoch %d, %s", p.after_epochs,
                p.after_epochs == 1 ? "" : "s", FormatJoules(p.energy_j).c_str(),
                FormatJoules(p.energy_low_j).c_str(), FormatJoules(p.energy_high_j).c_str(),
                p.to_epoch, p.method.c_str());
    if (r.stop_reason == StopReason::kEpochLimit && r.energy.energy_j > 0) {
      std::printf("; realised %s (%+.1f%%)\n", FormatJoules(r.energy.energy_j).c_str(),
                  100.0 * (p.energy_j - r.energy.energy_j) / r.energy.energy_j);
    } else {
      std::printf("; the run stopped before epoch %d, so it is not compared\n", p.to_epoch);
    }
  }
  for (const std::string& note : r.notes) std::printf("note: %s\n", note.c_str());
  if (!config.save_dir.empty()) std::printf("saved to %s\n", config.save_dir.c_str());
}

}  // namespace joule::cli
