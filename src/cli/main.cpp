// The joule command: parses the subcommand and turns errors into one line on
// stderr and a non-zero exit code.
#include <cstdio>
#include <exception>

#include "cli/commands.hpp"
#include "joule/util.hpp"

int main(int argc, char** argv) {
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
