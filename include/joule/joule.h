/* joule/joule.h: the meter from C and from any language with a C FFI
 * (Python ctypes, Rust, Go, Julia, ...).
 *
 * A joule_meter measures the energy (joules) and carbon (grams CO2eq) of the
 * calling process and its children, or of the whole machine, from the best
 * source the machine has: RAPL, NVML, hwmon, or the TDP model where no sensor
 * exists. Every figure carries a method label ("measured:rapl",
 * "estimated:tdp-model", ...); `estimated` is 1 when any of them is not a
 * measurement.
 *
 * Errors: functions return 0 on success and -1 on failure (create returns
 * NULL); joule_last_error() then returns a one-line message saying what was
 * wrong and how to fix it. No function throws or aborts on bad input.
 *
 * Threads: one joule_meter may be used from several threads at once. The
 * error message is per thread.
 *
 * Link: pkg-config --cflags --libs joule, or CMake find_package(joule) and
 * target joule::meter. Bundled tables (CPU TDPs, carbon intensities) are found
 * through $JOULE_DATA_DIR, else where the library was built or installed. */
#ifndef JOULE_JOULE_H_
#define JOULE_JOULE_H_

#ifdef __cplusplus
extern "C" {
#endif

typedef struct joule_meter joule_meter;

/* Settings for joule_meter_create. Call joule_options_init first: it sets
 * every field to its default, so that fields added later keep working. */
typedef struct joule_options {
  double interval_s;          /* seconds between samples, 0.01..3600; default 1 */
  int whole_machine;          /* 0 (default): this process and its children; 1: the machine */
  const char* country_iso3;   /* carbon intensity of a country, e.g. "FRA"; NULL: none */
  double intensity_g_per_kwh; /* fixed intensity; < 0 (default): not given */
  double pue;                 /* data-centre PUE, >= 1; default 1 */
  double cpu_tdp_w;           /* the model's CPU TDP; <= 0 (default): looked up */
  double declared_power_w;    /* the machine's wall power; <= 0 (default): use sensors */
} joule_options;

void joule_options_init(joule_options* options);

/* Totals since start (or over one task). Energies in joules, carbon in grams. */
typedef struct joule_reading {
  double duration_s;
  double energy_j; /* everything counted, attributed to the process tree */
  double cpu_j, gpu_j, ram_j, system_j;
  double emissions_g;   /* operational (PUE applied) + embodied */
  double process_share; /* the tree's part of the machine's busy CPU time; 1 for the machine */
  int estimated;        /* 1 when some figure is not a measurement */
  char cpu_method[32];  /* "measured:rapl", "estimated:tdp-model", ...; "" when absent */
  char gpu_method[32];
  char ram_method[32];
} joule_reading;

/* Discovers the sources and prepares a meter (not started). `options` may be
 * NULL for the defaults. Returns NULL on error (see joule_last_error). The
 * caller owns the meter and frees it with joule_meter_destroy. */
joule_meter* joule_meter_create(const joule_options* options);

/* Starts sampling on a background thread. -1 when already started. */
int joule_meter_start(joule_meter* meter);

/* Takes a sample now and fills `out` (may be NULL) with the totals since start. */
int joule_meter_read(joule_meter* meter, joule_reading* out);

/* Begins a named task (e.g. "epoch-3"); tasks may overlap; names must be
 * unique among open tasks. */
int joule_task_begin(joule_meter* meter, const char* name);

/* Ends the named task and fills `out` (may be NULL) with its totals. */
int joule_task_end(joule_meter* meter, const char* name, joule_reading* out);

/* Stops sampling and fills `out` (may be NULL) with the totals. */
int joule_meter_stop(joule_meter* meter, joule_reading* out);

/* Stops if running and frees the meter. NULL is allowed. */
void joule_meter_destroy(joule_meter* meter);

/* This thread's last error message; "" when none. Valid until the next joule
 * call on this thread. Never NULL. */
const char* joule_last_error(void);

/* One line per source found ("estimated:tdp-model: CPU: ..."), for logs.
 * Valid until the meter is destroyed. */
const char* joule_meter_sources(const joule_meter* meter);

#ifdef __cplusplus
}
#endif

#endif /* JOULE_JOULE_H_ */
