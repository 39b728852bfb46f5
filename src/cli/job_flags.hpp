// The command-line flags of a training job, made from the run layer's schema
// (JobSchema): each field with a flag becomes a CLI11 option, applied to a
// JobConfig only when the user gave it, so a recipe's value stands unless a
// flag names it. Problems are reported with the flag's name, not the key's.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "joule/run.hpp"

namespace joule::cli {

class JobFlags {
 public:
  // Adds the flags of the schema fields `pick` accepts to `cmd`, showing
  // `defaults`' values as the defaults. Keep the JobFlags alive as long as the
  // command (its storage backs the options).
  JobFlags(CLI::App& cmd, const std::function<bool(const JobField&)>& pick,
           const JobConfig& defaults = JobConfig());

  // Applies every flag the user gave, in schema order, after checking each
  // value against the schema. Throws Error naming the flag ("--epochs -3:
  // must be >= 1").
  void Apply(JobConfig& to) const;
  // The key paths the given flags set (implied keys included).
  std::vector<std::string> OverriddenKeys() const;

  // The message for a problem of a config these flags helped build: in flag
  // terms when a given flag set the key, else in key terms, with the recipe's
  // file and line when `recipe` (may be null) set it.
  std::string Explain(const ConfigProblem& problem, const Recipe* recipe) const;

  // Validates `config` (ResolveJobConfig: its carbon model is kept for the
  // run) and throws Error(Explain(...)) on a problem; pass validated = true
  // to RunJob after.
  void Validate(JobConfig& config, const Recipe* recipe) const;

 private:
  struct Bound {
    const JobField* field;
    CLI::Option* option;
    std::shared_ptr<std::string> text;
  };
  std::vector<Bound> bound_;
};

// The fields of `joule train`: every one with a flag.
bool TrainFlag(const JobField& field);
// The metering flags shared by train, demo and study.
bool MeteringFlag(const JobField& field);

}  // namespace joule::cli
