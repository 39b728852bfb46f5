/* A stand-in for libnvidia-ml.so.1 with the same function names and
 * signatures as the NVML calls joule makes, serving canned counters that a
 * test sets through joule_stub_nvml_set(). Built twice by tests/CMakeLists.txt:
 * once complete, once with STUB_NVML_NO_ENERGY (no
 * nvmlDeviceGetTotalEnergyConsumption, as on GPUs older than Volta). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define STUB_MAX_DEVICES 8

static unsigned g_count = 1;
static unsigned long long g_energy_mj[STUB_MAX_DEVICES];
static unsigned g_power_mw[STUB_MAX_DEVICES];
static int g_initialized;

/* Test control: device count and each device's counters. */
void joule_stub_nvml_set_count(unsigned count) { g_count = count; }
void joule_stub_nvml_set(unsigned device, unsigned long long energy_mj, unsigned power_mw) {
  if (device < STUB_MAX_DEVICES) {
    g_energy_mj[device] = energy_mj;
    g_power_mw[device] = power_mw;
  }
}
int joule_stub_nvml_initialized(void) { return g_initialized; }

typedef struct StubDevice* nvmlDevice_t;

static int DeviceIndex(nvmlDevice_t device) { return (int)(uintptr_t)device - 1; }

int nvmlInit_v2(void) {
  g_initialized = 1;
  return 0;
}
int nvmlShutdown(void) {
  g_initialized = 0;
  return 0;
}
int nvmlDeviceGetCount_v2(unsigned* count) {
  *count = g_count;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t* device) {
  if (index >= g_count || index >= STUB_MAX_DEVICES) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  *device = (nvmlDevice_t)(uintptr_t)(index + 1);
  return 0;
}
int nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned length) {
  snprintf(name, length, "Stub GPU %d", DeviceIndex(device));
  return 0;
}
#ifndef STUB_NVML_NO_ENERGY
int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long* energy_mj) {
  *energy_mj = g_energy_mj[DeviceIndex(device)];
  return 0;
}
#endif
int nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned* power_mw) {
  *power_mw = g_power_mw[DeviceIndex(device)];
  return 0;
}
const char* nvmlErrorString(int result) { return result == 0 ? "Success" : "Stub error"; }
