/* classify_parts.h — what examples/classify.c needs besides its model and its step: its
 * flags and the settings a checkpoint keeps, the help text, evaluation on the test set, the
 * confusion matrix, errors.png and curves.png. */
#ifndef HENBUN_EXAMPLES_CLASSIFY_PARTS_H
#define HENBUN_EXAMPLES_CLASSIFY_PARTS_H

#include "examples/common/harness.h"

#define N_CLASSES 10   /* MNIST's digits, Fashion-MNIST's garments */
#define EVAL_BATCH 500 /* evaluation batches: no gradients, so memory is the forward's */
#define MAX_ERRORS 60  /* misclassified images shown in errors.png (6 rows of 10) */

/* The classifier's own flags (the run's are in run_flags). */
typedef struct classify_flags {
    const char *dataset, *data_dir, *arch, *net, *optim, *schedule;
    int warmup;
    double lr, weight_decay;
} classify_flags;

typedef struct classify_eval {
    double loss, acc;   /* mean cross-entropy (nats), fraction correct */
    int n, correct;
    int *pred;          /* n predicted labels */
    double *p_pred;     /* n probabilities the model gives its prediction */
} classify_eval;

/* One row of the log: what curves.png plots. */
typedef struct classify_row { double train_loss, train_err, test_loss, test_err; } classify_row;

/* What the program keeps. */
typedef struct classify_program {
    classify_flags c;
    nn_net *net;
    nn_optim *opt;
    nn_lr_schedule sched;
    nn_param_list saved;     /* "net.*" then "optim.*" */
    classify_eval ev;        /* the last epoch's test figures */
    classify_row *rows;      /* per epoch, for curves.png */
    int n_rows;
    /* In the checkpoint for other programs (input=, classes=, arch=) and the reader
     * (test_acc=): set before every save; what a checkpoint says of them is not used. */
    const char *input_text, *arch, *acc_text;
    int classes;
    char input[48], test_acc[16];
} classify_program;

cli_opt *classify_options(classify_flags *c, run_flags *r);
const setting *classify_settings(classify_program *p, run_flags *r);
extern const char *const classify_help_epilog;
/* What each picture shows (the run page's captions). */
extern const harness_caption classify_captions[];

/* Prints a spec-text error, and when it carries a column ("spec:COL: ...") the text with a
 * caret under that column. */
void classify_spec_error(const char *text, const char *msg);
/* Index of the largest of n logits. */
int classify_argmax(const ag_real *l, int n);
/* The net on every example of d in evaluation mode (running batch-norm statistics, no
 * dropout) without recording gradients, on tape (the training tape between epochs: no
 * arena of its own; cleared, its grad mode put back) or on a tape of its own if NULL. */
classify_eval classify_evaluate(nn_net *net, ag_tape *tape, const nn_dataset *d);
void classify_eval_free(classify_eval *e);
/* A confusion matrix (rows: true class, columns: predicted) and per-class accuracy. */
void classify_print_confusion(const nn_dataset *d, const classify_eval *e, bool fashion);
/* errors.png: the misclassified test images the model was surest about, captioned
 * "true>pred"; for Fashion-MNIST a legend of the class numbers goes underneath. */
void classify_errors_png(const char *path, const nn_dataset *test, const classify_eval *e,
                         bool fashion);
/* curves.png: losses and error rates on one logarithmic axis. */
void classify_curves_png(const char *path, const classify_row *rows, int n, const char *arch,
                         const char *dataset);
/* A resumed run's curves start with the epochs already in log.csv (rows up to `upto`). */
int classify_read_log(const char *path, classify_row *rows, int upto);

#endif
