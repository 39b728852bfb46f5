// The distributed commands' entry points (src/cli/distributed_*.cpp). They
// exist in every build; without MPI they throw Error(kNoMpiMessage).
#pragma once

#include <exception>
#include <string>

#include "joule/run.hpp"

#ifdef JOULE_WITH_MPI
#include "joule/dist.hpp"
#endif

namespace joule::cli {

// "joule was built without MPI: install ... and rebuild".
extern const char kNoMpiMessage[];
bool BuiltWithMpi();

// joule train --distributed: `config` validated; rank 0 records to `ledger`
// and prints (JSON with `json`). A rank's error: one line naming the rank on
// stderr, then MPI_Abort ends every rank with code 2.
void RunTrainDistributed(JobConfig config, const std::string& name, const LedgerTarget& ledger,
                         bool json);

#ifdef JOULE_WITH_MPI
// A rank's error in a distributed command: one line naming the rank on
// stderr (from rank 0, or from any rank once the job has `started`: before
// that every rank fails alike, and the others wait for rank 0 to say it),
// then every rank ends with code 2, since the others would wait in their
// next collective for ever. A job of one rank just exits. Never returns.
[[noreturn]] void EndJobOnError(dist::Communicator& comm, bool started, const std::exception& e);
#endif

}  // namespace joule::cli
