// Each subcommand of the joule command lives in its own file and registers
// itself on the top-level CLI11 app. A command's callback throws joule::Error
// on bad input; main() prints it as one line and exits 2. Callbacks that must
// return a specific exit code (measure: the child's) throw CliExit.
#pragma once

#include <CLI/CLI.hpp>

namespace joule::cli {

// Thrown by a command to end the program with `code` after printing nothing.
struct CliExit {
  int code;
};

void RegisterTrainCommand(CLI::App& app);
void RegisterEvalCommand(CLI::App& app);
void RegisterDemoCommand(CLI::App& app);
void RegisterMeasureCommand(CLI::App& app);
void RegisterSensorsCommand(CLI::App& app);
void RegisterStudyCommand(CLI::App& app);
// study_shifting.cpp: `joule study shifting`, registered on the `study` subcommand.
void RegisterStudyShifting(CLI::App& study);
void RegisterBenchInferCommand(CLI::App& app);
void RegisterRunsCommand(CLI::App& app);  // runs_command.cpp: the ledger
void RegisterReportCommand(CLI::App& app);
void RegisterServeCommand(CLI::App& app);  // serve_command.cpp: the dashboard
void RegisterEstimateCommand(CLI::App& app);
void RegisterPlanCommand(CLI::App& app);  // plan_command.cpp: plan and run
void RegisterRunCommand(CLI::App& app);
void RegisterImportCommand(CLI::App& app);  // onnx_commands.cpp: ONNX in
void RegisterExportCommand(CLI::App& app);  // onnx_commands.cpp: ONNX out
void RegisterSearchCommand(CLI::App& app);  // search_command.cpp: the Pareto front
// federated_command.cpp: FedAvg / FedProx under mpirun (needs a build with MPI)
void RegisterFederatedCommand(CLI::App& app);
// `joule compress` and its subcommands, each in its own file
// (compress_<name>.cpp), registered on the `compress` subcommand.
void RegisterCompressCommand(CLI::App& app);
void RegisterCompressQuantize(CLI::App& compress);
void RegisterCompressPrune(CLI::App& compress);
void RegisterCompressDistill(CLI::App& compress);
void RegisterCompressEarlyExit(CLI::App& compress);

}  // namespace joule::cli
