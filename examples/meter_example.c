/* meter_example: measure a piece of your own program with joule's C API.
 *
 *   cc meter_example.c $(pkg-config --cflags --libs joule) -o meter_example
 *
 * Measures two "epochs" of busy work as named tasks, then the whole run, and
 * prints each figure with the method that produced it. On a machine without
 * power sensors the method is estimated:tdp-model and the output says so. */
#include <stdio.h>
#include <stdlib.h>

#include "joule/joule.h"

static double BusyWork(long iterations) {
  double x = 0;
  for (long i = 1; i <= iterations; ++i) x += 1.0 / (double)i;
  return x;
}

static void Print(const char* what, const joule_reading* r) {
  printf("%-8s %8.3f s  %10.4f J  (cpu %s, ram %s)  %.3g gCO2eq  share %.2f%s\n", what,
         r->duration_s, r->energy_j, r->cpu_method[0] ? r->cpu_method : "-",
         r->ram_method[0] ? r->ram_method : "-", r->emissions_g, r->process_share,
         r->estimated ? "  [estimate]" : "");
}

int main(void) {
  joule_options options;
  joule_options_init(&options);
  options.interval_s = 0.05;
  options.country_iso3 = "FRA";
  joule_meter* meter = joule_meter_create(&options);
  if (meter == NULL) {
    fprintf(stderr, "meter_example: %s\n", joule_last_error());
    return 1;
  }
  printf("sources:\n%s", joule_meter_sources(meter));
  if (joule_meter_start(meter) != 0) {
    fprintf(stderr, "meter_example: %s\n", joule_last_error());
    joule_meter_destroy(meter);
    return 1;
  }
  double sink = 0;
  for (int epoch = 1; epoch <= 2; ++epoch) {
    char name[16];
    joule_reading task;
    snprintf(name, sizeof name, "epoch-%d", epoch);
    if (joule_task_begin(meter, name) != 0) break;
    sink += BusyWork(20000000L * epoch);
    if (joule_task_end(meter, name, &task) != 0) break;
    Print(name, &task);
  }
  /* Errors come back as -1 and a message, never as a crash. */
  if (joule_task_end(meter, "no-such-task", NULL) != 0) {
    printf("expected error: %s\n", joule_last_error());
  }
  joule_reading total;
  if (joule_meter_stop(meter, &total) != 0) {
    fprintf(stderr, "meter_example: %s\n", joule_last_error());
    joule_meter_destroy(meter);
    return 1;
  }
  Print("total", &total);
  joule_meter_destroy(meter);
  return sink > 0 && total.energy_j >= 0 ? 0 : 1;
}
