// joule/c_api.hpp: the C API's handle and error convention as C++ sees them,
// for the layer above the meter that adds C functions to joule.h (src/capi:
// runs in the ledger, CodeCarbon rows). Applications use joule.h instead.
//
// Meter layer (src/meter/c_api.cpp), because the handle and the per-thread
// message live there: the functions of both layers then share one
// joule_last_error().
#pragma once

#include <exception>
#include <memory>
#include <string>

#include "joule/carbon.hpp"
#include "joule/joule.h"
#include "joule/meter.hpp"

namespace joule::capi {

// What a joule_meter was made with, for a run's header.
struct MeterSetup {
  Meter* meter = nullptr;
  const CarbonModel* carbon = nullptr;  // always resolved by joule_meter_create
  Attribution attribution = Attribution::kProcessTree;
  double interval_s = 1;
};
MeterSetup SetupOf(joule_meter* handle);  // handle not null

// An object `handle` owns and frees after its meter (a run's recorder, which
// the meter's last sample still feeds); empty until one is set.
std::shared_ptr<void>& AttachmentOf(joule_meter* handle);

// joule_last_error()'s message for this thread.
void SetLastError(const std::string& message);

// Runs `body`, turning any exception into -1 and the thread's message; 0 and
// an empty message otherwise.
template <typename Body>
int Guard(Body body) {
  SetLastError("");
  try {
    body();
    return 0;
  } catch (const std::exception& e) {
    SetLastError(e.what());
  } catch (...) {
    SetLastError("unknown error");
  }
  return -1;
}

}  // namespace joule::capi
