/* dataset.h - image datasets in memory and the batch builder.
 *
 * A dataset holds n images as uint8 pixels (n, c, h, w) and their labels.
 * Loaders read Fashion-MNIST (IDX files, gzipped or plain) and CIFAR-10 (the
 * binary version) and validate everything before trusting it: magic numbers,
 * dimensions against sane bounds, file lengths against the headers, label
 * ranges. No allocation is sized from a header before the file is known to
 * hold that much data.
 *
 * dataset_batch turns a list of image indices into a network input batch in
 * the simulator's channel-major layout (C, nb, S, S): pixels are normalized
 * to (x/255 - mean[c]) / std[c], placed centred into S x S with zero padding
 * in normalized space (Fashion-MNIST 28 -> 32: two pixels each side), and
 * optionally augmented by a random shift (crop with padding) and a
 * horizontal flip drawn from the RNG_DATA stream. */
#ifndef IO_DATASET_H
#define IO_DATASET_H

#include "sim/ctx.h"
#include "sim/real.h"

#define DATASET_MAXC 4 /* most channels a dataset_norm describes */
#define DATASET_PATHMAX 4096

/* Where the loaders look when dir is NULL. Fashion-MNIST: Debian's
 * dataset-fashion-mnist package. CIFAR-10 has no Debian package; the default
 * follows the same convention (the extracted cifar-10-batches-bin). */
#define DATASET_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define DATASET_CIFAR10_DIR "/usr/share/datasets/cifar-10-batches-bin"

/* Sane bounds for headers (anything larger is rejected as corrupt). */
#define DATASET_MAX_IMAGES 10000000
#define DATASET_MAX_SIDE 4096
/* Resource bound: a loader never allocates more than DATASET_MAX_BYTES of
 * pixels (plus n ints of labels and the n label bytes of an IDX file), and
 * only after the data is proven present (a header claiming more data than
 * the file holds allocates nothing). Fashion-MNIST's training split is
 * 47 MB, CIFAR-10's 154 MB. */
#define DATASET_MAX_BYTES ((size_t)1 << 32)

typedef struct {
    int n, c, h, w, classes;
    unsigned char *pixels; /* (n, c, h, w) uint8, channel-planar per image */
    int *labels;           /* (n) in [0, classes) */
    int train;             /* 1: the training split, 0: the test split */
    char name[32];         /* "fmnist" or "cifar10" */
    char path[DATASET_PATHMAX]; /* the directory it was loaded from */
} dataset;

/* Input normalization and placement: channel c is mapped to
 * (x/255 - mean[c]) / std[c]; the image is centred in size x size. */
typedef struct {
    int c;
    double mean[DATASET_MAXC], std[DATASET_MAXC];
    int size; /* S, the output height and width (>= the image's h and w) */
} dataset_norm;

/* Fashion-MNIST: mean 0.2860, std 0.3530, 28 -> 32.
 * CIFAR-10: mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616), 32. */
extern const dataset_norm dataset_norm_fmnist;
extern const dataset_norm dataset_norm_cifar10;

/* Augmentation: shift the placed image by (dy, dx), each uniform in
 * [-pad, pad], filling uncovered pixels with 0.0 (= a random crop of the
 * zero-padded image), then mirror it left-right with probability 0.5 when
 * flip is set. Per image, in batch order, the RNG_DATA draws are: dy, dx
 * (only when pad > 0), then the flip (only when flip is set). */
typedef struct {
    int pad;
    int flip;
} dataset_augment;

/* Load the Fashion-MNIST training (train = 1, 60000 images) or test split
 * (10000) from dir (NULL: DATASET_FMNIST_DIR). For each of the two files the
 * .gz name is tried first, then the uncompressed one. On failure ds is left
 * empty and the message names the offending file. */
sim_status dataset_load_fmnist(sim_ctx *ctx, dataset *ds, const char *dir, int train);
/* Load CIFAR-10 (binary version) from dir (NULL: DATASET_CIFAR10_DIR):
 * data_batch_1..5.bin for train, test_batch.bin otherwise. */
sim_status dataset_load_cifar10(sim_ctx *ctx, dataset *ds, const char *dir, int train);
/* The same parsers on bytes in memory (fuzzing, tests, data from elsewhere):
 * an IDX image file and its label file, each gzipped or plain, and one
 * CIFAR-10 batch file. Same checks and messages, with "(images)",
 * "(labels)" or "(memory)" in place of the file name. */
sim_status dataset_parse_fmnist(sim_ctx *ctx, dataset *ds, const void *images, size_t images_len,
                                const void *labels, size_t labels_len, int train);
sim_status dataset_parse_cifar10(sim_ctx *ctx, dataset *ds, const void *buf, size_t len,
                                 int train);
/* Load by name: "fmnist" (also "fashion-mnist") or "cifar10". */
sim_status dataset_load(sim_ctx *ctx, dataset *ds, const char *name, const char *dir,
                        int train);
void dataset_free(sim_ctx *ctx, dataset *ds);

/* The preset normalization for a dataset name ("fmnist", "cifar10"). */
sim_status dataset_norm_preset(sim_ctx *ctx, const char *name, dataset_norm *out);

/* Name of class k ("T-shirt/top", "airplane", ...); "?" when out of range. */
const char *dataset_class_name(const dataset *ds, int k);

/* Build a batch of the images indices[0..nb): out receives
 * (ds->c, nb, norm->size, norm->size) channel-major values, labels_out (may
 * be NULL) the nb labels. aug may be NULL (no augmentation, no random draws).
 * Every index and the norm are checked before anything is written. */
sim_status dataset_batch(sim_ctx *ctx, const dataset *ds, real *out /* (C, nb, S, S) */,
                         int *labels_out /* (nb) */, const int *indices /* (nb) */, int nb,
                         const dataset_norm *norm, const dataset_augment *aug);

#endif
