// Progress lines and final summaries shared by the training subcommands
// (train, demo, study). Everything goes to stderr except the final figures,
// so that stdout stays clean for --json.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "joule/run.hpp"

namespace joule::cli {

// "12.4 J", "3.21 kJ", "1.20 MJ".
std::string FormatJoules(double j);
// "1.60 mg", "0.250 g" style: grams CO2eq with a unit that keeps 3 digits;
// the caller appends "CO2eq".
std::string FormatGrams(double g);

// One plain line for an epoch, without a newline: epoch, training loss, the
// monitored set's metric, batch size, seconds, the epoch's joules, and the
// joules and grams CO2eq so far. `label` (may be empty) prefixes it.
std::string FormatEpochLine(const EpochStats& s, int max_epochs, const std::string& label);

// Prints training progress on stderr. Pass Print as RunJob's on_epoch and the
// printer itself as an extra callback. On a terminal the current epoch is one
// live line, rewritten at most five times a second (progress in the epoch,
// running loss, joules and grams so far) and replaced by the epoch's line when
// the epoch ends; on a pipe or file only the epoch lines are printed, one per
// epoch. Not thread safe (Fit drives it from one thread).
class EpochPrinter final : public Callback {
 public:
  // `live`: rewrite a line on stderr; by default when stderr is a terminal.
  explicit EpochPrinter(int max_epochs, std::string label = "");
  EpochPrinter(int max_epochs, std::string label, bool live);

  void Print(const EpochStats& s);
  // One line of its own on stderr (replacing a live line), e.g. a prediction.
  void Note(const std::string& line);

  std::string name() const override { return "progress"; }
  void OnEpochBegin(TrainContext& ctx) override;
  void OnStepEnd(TrainContext& ctx, const StepStats& step) override;

 private:
  int max_epochs_;
  std::string label_;
  bool live_;
  bool line_open_ = false;  // a live line is on screen without its newline
  double last_draw_s_ = 0;
  double loss_sum_ = 0;
  std::int64_t loss_rows_ = 0;
};

// The final figures as JSON: data, model, precision, epochs, steps, seconds,
// test_accuracy (or rmse and mae), energy_j, energy_method, co2_g, the
// intensity and its source, the stop reason, target and early-stopping
// outcomes, and notes.
nlohmann::json JobResultJson(const JobConfig& config, const JobResult& r);

// The final figures for humans on stdout: the metric, epochs and seconds; the
// energy with its method and the carbon with its intensity and source; why
// the run stopped (saying plainly when a target was not reached); notes.
void PrintFinal(const JobConfig& config, const JobResult& r);

}  // namespace joule::cli
