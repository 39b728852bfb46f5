/* A stand-in for libamd_smi.so with the same function names and signatures as
 * the AMD SMI calls joule makes, serving values a test sets through the
 * joule_stub_amdsmi_* functions: the GPU count, each GPU's energy accumulator
 * and socket power, whether amdsmi_get_energy_count is supported, and the
 * release year that decides how amdsmi_power_info_t is laid out (24: u32
 * current and average socket power first; 25 and later: u64 socket_power
 * first). The structs below are written at the size of the release they
 * imitate, so a reader that assumed the wrong size would read zeros. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define STUB_MAX_GPUS 8
#define STATUS_SUCCESS 0
#define STATUS_INVAL 1
#define STATUS_NOT_SUPPORTED 2

static unsigned g_count = 1;
static uint64_t g_energy[STUB_MAX_GPUS];
static uint32_t g_power_w[STUB_MAX_GPUS];
static float g_resolution = 15.3f;
static int g_energy_supported = 1;
static uint32_t g_year = 25;
static int g_initialized;

void joule_stub_amdsmi_set_count(unsigned count) { g_count = count; }
void joule_stub_amdsmi_set(unsigned gpu, uint64_t energy_count, uint32_t power_w) {
  if (gpu < STUB_MAX_GPUS) {
    g_energy[gpu] = energy_count;
    g_power_w[gpu] = power_w;
  }
}
void joule_stub_amdsmi_set_energy(int supported, float resolution_uj) {
  g_energy_supported = supported;
  g_resolution = resolution_uj;
}
void joule_stub_amdsmi_set_year(uint32_t year) { g_year = year; }
int joule_stub_amdsmi_initialized(void) { return g_initialized; }

typedef void* handle_t;
static char g_socket; /* one socket; its address is the handle */

static int GpuIndex(handle_t h) { return (int)(uintptr_t)h - 1; }
static int ValidGpu(handle_t h) { return GpuIndex(h) >= 0 && (unsigned)GpuIndex(h) < g_count; }

int amdsmi_init(uint64_t flags) {
  if (!(flags & 2)) return STATUS_INVAL; /* joule asks for GPUs */
  g_initialized = 1;
  return STATUS_SUCCESS;
}
int amdsmi_shut_down(void) {
  g_initialized = 0;
  return STATUS_SUCCESS;
}

typedef struct {
  uint32_t year, major, minor, release;
  const char* build;
} version_t;
int amdsmi_get_lib_version(version_t* v) {
  v->year = g_year;
  v->major = 1;
  v->minor = 2;
  v->release = 0;
  v->build = "stub";
  return STATUS_SUCCESS;
}

int amdsmi_get_socket_handles(uint32_t* count, handle_t* sockets) {
  if (sockets == NULL) {
    *count = 1;
    return STATUS_SUCCESS;
  }
  if (*count < 1) return STATUS_INVAL;
  sockets[0] = &g_socket;
  *count = 1;
  return STATUS_SUCCESS;
}

int amdsmi_get_processor_handles(handle_t socket, uint32_t* count, handle_t* gpus) {
  if (socket != &g_socket) return STATUS_INVAL;
  if (gpus == NULL) {
    *count = g_count;
    return STATUS_SUCCESS;
  }
  unsigned n = *count < g_count ? *count : g_count;
  for (unsigned i = 0; i < n; ++i) gpus[i] = (handle_t)(uintptr_t)(i + 1);
  *count = n;
  return STATUS_SUCCESS;
}

typedef struct {
  char market_name[256];
  uint32_t vendor_id;
} asic_info_t;
int amdsmi_get_gpu_asic_info(handle_t gpu, asic_info_t* info) {
  if (!ValidGpu(gpu)) return STATUS_INVAL;
  snprintf(info->market_name, sizeof info->market_name, "Stub Instinct %d", GpuIndex(gpu));
  info->vendor_id = 0x1002;
  return STATUS_SUCCESS;
}

int amdsmi_get_energy_count(handle_t gpu, uint64_t* energy, float* resolution, uint64_t* ts) {
  if (!ValidGpu(gpu)) return STATUS_INVAL;
  if (!g_energy_supported) return STATUS_NOT_SUPPORTED;
  *energy = g_energy[GpuIndex(gpu)];
  *resolution = g_resolution;
  *ts = 0;
  return STATUS_SUCCESS;
}

typedef struct { /* release 24 */
  uint32_t current_socket_power, average_socket_power;
  uint32_t gfx_voltage, soc_voltage, mem_voltage, power_limit;
  uint32_t reserved[11];
} power_info_24_t;
typedef struct { /* release 25 and later */
  uint64_t socket_power;
  uint32_t current_socket_power, average_socket_power;
  uint64_t gfx_voltage, soc_voltage, mem_voltage;
  uint32_t power_limit;
  uint64_t reserved[18];
} power_info_25_t;

int amdsmi_get_power_info(handle_t gpu, void* out) {
  if (!ValidGpu(gpu)) return STATUS_INVAL;
  uint32_t w = g_power_w[GpuIndex(gpu)];
  if (g_year == 24) {
    power_info_24_t p;
    memset(&p, 0, sizeof p);
    p.current_socket_power = 0xFFFFFFFFu; /* as on a Navi or MI200: only the average */
    p.average_socket_power = w;
    memcpy(out, &p, sizeof p);
  } else {
    power_info_25_t p;
    memset(&p, 0, sizeof p);
    p.socket_power = w;
    p.current_socket_power = 0xFFFFFFFFu;
    p.average_socket_power = 0xFFFFFFFFu;
    memcpy(out, &p, sizeof p);
  }
  return STATUS_SUCCESS;
}

int amdsmi_status_code_to_string(int status, const char** text) {
  *text = status == STATUS_SUCCESS ? "AMDSMI_STATUS_SUCCESS" : "AMDSMI_STATUS_STUB_ERROR";
  return STATUS_SUCCESS;
}
