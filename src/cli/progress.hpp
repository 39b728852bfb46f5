// Progress lines and final summaries shared by the training subcommands.
#pragma once

#include <nlohmann/json.hpp>

#include "joule/train.hpp"

namespace joule::cli {

// Prints one line per epoch on stderr (so that stdout stays clean for --json).
class EpochPrinter {
 public:
  explicit EpochPrinter(const JobConfig& config) : config_(config) {}
  void Print(const EpochStats& s) const;

 private:
  const JobConfig& config_;
};

// The final figures: test/holdout metric, epochs, seconds, precision.
nlohmann::json JobResultJson(const JobConfig& config, const JobResult& r);
void PrintFinal(const JobConfig& config, const JobResult& r);

}  // namespace joule::cli
