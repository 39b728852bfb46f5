// The distributed commands' entry points (src/cli/distributed_*.cpp). They
// exist in every build; without MPI they throw Error(kNoMpiMessage).
#pragma once

#include <string>

#include "joule/run.hpp"

namespace joule::cli {

// "joule was built without MPI: install ... and rebuild".
extern const char kNoMpiMessage[];
bool BuiltWithMpi();

// joule train --distributed: `config` validated; rank 0 records to `ledger`
// and prints (JSON with `json`). A rank's error: one line naming the rank on
// stderr, then MPI_Abort ends every rank with code 2.
void RunTrainDistributed(JobConfig config, const std::string& name, const LedgerTarget& ledger,
                         bool json);

}  // namespace joule::cli
