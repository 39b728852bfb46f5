// joule serve: the dashboard (the report layer's Dashboard) over a ledger,
// until Ctrl-C or SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <memory>

#include "cli/commands.hpp"
#include "cli/ledger_flags.hpp"
#include "joule/report.hpp"
#include "joule/util.hpp"

namespace joule::cli {
namespace {

struct ServeFlags {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string per = "run";
  LedgerFlags ledger;
};

void RunServe(const ServeFlags& f) {
  ReportOptions options;
  options.per = ParseSciUnit(f.per);
  const std::string path = ResolveLedgerTarget(f.ledger).path;
  // The signals are taken by sigwait below; blocked before the server's
  // threads start, so none of them is interrupted instead.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  const bool v6 = f.host.find(':') != std::string::npos;
  const std::string host = v6 ? "[" + f.host + "]" : f.host;
  Dashboard dashboard(path, host + ":" + std::to_string(f.port), options);
  std::fprintf(stderr,
               "joule serve: http://%s:%d/ shows the ledger %s (read-only; new runs appear as "
               "they are recorded); Ctrl-C stops\n",
               host.c_str(), dashboard.port(), path.c_str());
  int signal_number = 0;
  sigwait(&stop, &signal_number);
  std::fprintf(stderr, "joule serve: stopped after %llu requests\n",
               static_cast<unsigned long long>(dashboard.requests()));
}

}  // namespace

void RegisterServeCommand(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "The dashboard: a web page of the recorded runs (filter by kind, tag, status, date), each "
      "run's Green AI card with its plots, comparisons of ticked runs, and a JSON API under "
      "/api/ (runs, run/ID, samples/ID, compare?ids=A,B). Read-only on the ledger; listens on "
      "127.0.0.1 unless --host says otherwise.");
  cmd->add_option("--port", f->port, "TCP port; 0 picks a free one (printed)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--host", f->host,
                  "address to listen on; 0.0.0.0 exposes the runs to the network")
      ->capture_default_str();
  cmd->add_option("--per", f->per,
                  "the SCI's functional unit on cards: run, epoch, "
                  "1000-inferences, sample")
      ->capture_default_str();
  AddLedgerFlags(*cmd, f->ledger, /*allow_disable=*/false);
  cmd->callback([f] { RunServe(*f); });
}

}  // namespace joule::cli
