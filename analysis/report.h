/* report.h - read a spike trace (io/trace.h layout, engine.md §4) back and
 * reduce it to what `sim analyze` prints and plots:
 *
 *   per population   spikes, spikes per image, firing rate per timestep
 *                    (spikes / (n_nodes x images), by timestep within the
 *                    image), mean rate per neuron and timestep, and the
 *                    neurons that never spiked over the run (silent);
 *   per projection   events, ACs, MACs, the literature estimate (sop) summed
 *                    from /energy/counters, their energy
 *                    E = e_mac_pj MACs + e_ac_pj ACs and its share;
 *   per image        /samples (label, prediction, spikes, energy), accuracy,
 *                    and GSL summary statistics and histograms of spikes and
 *                    energy per image;
 *   one image        optionally, every spike of one image (for a raster).
 *
 * The file is validated while it is read, and nothing is trusted before it
 * is checked: the format attribute, the groups, every dataset's rank and
 * type class (compound members by name), sizes against REPORT_MAX_* (so a
 * corrupt header cannot make us allocate gigabytes), node ids against
 * n_nodes, timestamps against the timesteps /samples covers, each
 * population's spikes in the order the writer guarantees (timesteps not
 * decreasing, node ids strictly ascending within a timestep: at most
 * n_nodes spikes per timestep, and a file claiming rows it does not hold
 * fails at once instead of being read for hours), counter rows against
 * the projection, image and timestep ranges. A failure is one line
 * in the context naming the file and what was expected and found:
 *
 *     x.h5: not a trevsnn trace: root attribute format missing (expected "trevsnn-trace")
 *     x.h5: /samples: member label: expected an integer, found a float
 *
 * Spikes and counter rows are streamed in blocks of REPORT_BLOCK rows, so
 * memory is bounded by the neuron count, T and the number of images, not
 * by the length of the trace.
 *
 * Populations are listed in network order: by the first projection (in
 * /energy/projections order, names "SRC->DST") that targets them, the ones
 * no projection targets first, ties by name. The kind of a projection is
 * not stored in the trace; it is taken as graded when it performed any MAC
 * (the literature energy of graded projections is sop x e_mac_pj, of
 * spike-driven ones sop x e_ac_pj, as in sim/engine.c). */
#ifndef ANALYSIS_REPORT_H
#define ANALYSIS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "analysis/summary.h"
#include "io/trace.h"
#include "sim/ctx.h"

/* Bounds on what a trace may claim (anything larger is rejected). */
#define REPORT_MAX_POPS 4096
#define REPORT_MAX_PROJS 65536
#define REPORT_MAX_T 4096
#define REPORT_MAX_SAMPLES 10000000
#define REPORT_MAX_NODES ((int64_t)1 << 28) /* all populations together */
#define REPORT_MAX_NAME 1024
#define REPORT_BLOCK 65536    /* spikes or counter rows read at once */
#define REPORT_HIST_BINS 12

typedef struct {
    char *name;
    int64_t n_nodes;
    uint64_t spikes;      /* all images */
    uint64_t *spikes_t;   /* (T) by timestep within the image, summed over images */
    int64_t silent;       /* neurons that never spiked */
    int order;            /* sort key: first projection targeting it, -1 none */
    /* spikes of the selected image (report_opts.image), in file order */
    int32_t *img_t;       /* (img_n) timestep within the image */
    int32_t *img_id;      /* (img_n) node id */
    int64_t img_n, img_cap;
} report_pop;

typedef struct {
    char *name;           /* "SRC->DST" as written by sim run */
    uint64_t events, acs, macs;
    double sop;           /* literature estimate: input rate x dense FLOPs */
    double energy_pj;     /* e_mac_pj macs + e_ac_pj acs */
    double energy_lit_pj; /* sop x e_mac_pj (graded) or e_ac_pj (spike-driven) */
    int graded;           /* performed MACs */
} report_proj;

/* A histogram of n samples: nbins equal bins over [lo, hi] (the maximum
 * falls into the last bin), counted with GSL. */
typedef struct {
    int nbins;
    double lo, hi;
    uint64_t counts[REPORT_HIST_BINS];
} report_hist;

typedef struct {
    char path[4096];
    /* /meta and /energy attributes (strings "" when absent) */
    char *preset, *checkpoint, *checksum, *version, *command_line;
    double dt_ms;
    int T;
    double e_mac_pj, e_ac_pj;
    int npop;
    report_pop *pops;     /* (npop) network order */
    int nproj;
    report_proj *projs;   /* (nproj) file order */
    int64_t nsamples;
    trace_sample_row *samples; /* (nsamples) */
    int64_t correct;      /* prediction == label */
    int64_t energy_rows;  /* rows of /energy/counters */
    uint64_t spikes;      /* all populations and images, from /spikes */
    uint64_t sample_spikes; /* the same summed over /samples */
    int64_t n_nodes;      /* all populations */
    double proj_energy_pj, proj_energy_lit_pj; /* sums over projections */
    double energy_pj, energy_lit_pj;           /* sums over /samples (stem, heads too) */
    summary spikes_stats, energy_stats, energy_lit_stats; /* per image */
    report_hist spikes_hist, energy_hist;
    int64_t image;        /* the image whose spikes were kept, -1 none */
} report;

typedef struct {
    int64_t image; /* keep the spikes of this image (row of /samples), -1: none */
} report_opts;

/* Read and validate the trace at path into r (zeroed first). On failure r
 * holds nothing (report_free is still safe) and the message names the
 * file. SIM_EIO: cannot open; SIM_EFORMAT: not a trace or inconsistent;
 * SIM_ERANGE: opts->image beyond the images of the trace; SIM_ENOMEM. */
sim_status report_load(sim_ctx *ctx, report *r, const char *path, const report_opts *opts);
void report_free(sim_ctx *ctx, report *r);

/* Mean firing rate of population p: spikes / (n_nodes x images x T), and
 * its rate at timestep t within the image: spikes_t / (n_nodes x images). */
double report_rate(const report *r, int p);
double report_rate_t(const report *r, int p, int t);

/* Indices of the projections sorted by counted energy, largest first
 * (ties by index), into idx (nproj). */
void report_proj_order(const report *r, int *idx);

/* The aligned tables (what `sim analyze TRACE` prints) and the same content
 * as one JSON object (with every image row) on one line. */
void report_print(FILE *out, const report *r);
void report_print_json(FILE *out, const report *r);

#endif
