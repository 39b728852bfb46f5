// The joule command: parses the subcommand and turns errors into one line on
// stderr and a non-zero exit code.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "cli/commands.hpp"
#include "joule/util.hpp"

namespace {

// libgomp reads OMP_WAIT_POLICY once, when it is loaded, before main() runs,
// so the compute commands re-execute themselves once with it set. Passive
// waiting: with libgomp's default spinning, two OpenMP threads on a busy
// two-core machine wait on each other's cores and an epoch takes twenty times
// longer (measured: 0.8 s vs 19-28 s). Users who want spinning set
// OMP_WAIT_POLICY=active. measure and sensors run no OpenMP code and skip the
// re-exec, which would add to their start-up cost.
void ReexecWithPassiveOmpWaiting(int argc, char** argv) {
  if (argc < 2 || std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  std::string command = argv[1];
  if (command != "train" && command != "demo" && command != "eval" && command != "study" &&
      command != "compress" && command != "bench-infer" && command != "federated") {
    return;
  }
  setenv("OMP_WAIT_POLICY", "passive", /*overwrite=*/0);
  execv("/proc/self/exe", argv);
  // execv only returns on failure: carry on with libgomp's defaults.
}

}  // namespace

int main(int argc, char** argv) {
  ReexecWithPassiveOmpWaiting(argc, argv);
  CLI::App app{
      "joule: measure the energy and carbon of machine-learning work, and cut it.\n"
      "Every energy figure says how it was obtained (measured:rapl, estimated:tdp-model, ...)."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "joule 0.1.0");
  joule::cli::RegisterDemoCommand(app);
  joule::cli::RegisterTrainCommand(app);
  joule::cli::RegisterEvalCommand(app);
  joule::cli::RegisterMeasureCommand(app);
  joule::cli::RegisterSensorsCommand(app);
  joule::cli::RegisterStudyCommand(app);
  joule::cli::RegisterCompressCommand(app);
  joule::cli::RegisterBenchInferCommand(app);
  joule::cli::RegisterRunsCommand(app);
  joule::cli::RegisterReportCommand(app);
  joule::cli::RegisterServeCommand(app);
  joule::cli::RegisterEstimateCommand(app);
  joule::cli::RegisterPlanCommand(app);
  joule::cli::RegisterRunCommand(app);
  joule::cli::RegisterImportCommand(app);
  joule::cli::RegisterExportCommand(app);
  joule::cli::RegisterSearchCommand(app);
  joule::cli::RegisterFederatedCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are ParseErrors with exit code 0.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "joule: %s (see 'joule --help')\n", e.what());
    return 2;
  } catch (const joule::cli::CliExit& e) {
    return e.code;
  } catch (const joule::Error& e) {
    std::fprintf(stderr, "joule: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "joule: internal error: %s\n", e.what());
    return 70;
  }
  return 0;
}
