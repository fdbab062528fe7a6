/* harness.c — the run machinery of the training programs (see harness.h): flags, checks,
 * checkpoints, exact resumption, signals, logs and pictures around a program's step, and
 * data parallelism over the ranks of an MPI job (nn/dist.h; one rank without MPI, where
 * every dist call below is skipped or a no-op). */
#include "examples/common/harness.h"
#include "examples/common/outdir.h"
#include "examples/common/report.h"
#include "examples/common/run.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

const char *harness_path(const harness *h, char *buf, size_t n, const char *name) {
    return run_path(buf, n, h->flags.out, name);
}

/* ---- the run page (OUT/index.html beside run.json and result.json; see report.h) -------- */

static char result_text[16384]; /* " key=value ..." of the result line, from harness_result */

void harness_result(harness *h, const char *fmt, ...) {
    (void)h;
    size_t len = strlen(result_text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(result_text + len, sizeof result_text - len, fmt, ap);
    va_end(ap);
}

/* Writes DIR/run.json with `status` and the settings text, then DIR/index.html.  The page
 * is for people: a failure to write it is reported, never fatal to the run. */
static void page_write(const harness *h, const char *dir, const char *status,
                       const char *settings) {
    const char *files[64], *caps[64];
    int n = 0;
    for (const harness_caption *c = h->captions; c && c->file && n < 64; c++)
        files[n] = c->file, caps[n++] = c->caption;
    report_run r = {.program = h->name, .argc = h->argc, .argv = h->argv, .settings = settings,
                    .status = status, .n_captions = n, .caption_files = files, .captions = caps};
    nn_error err;
    if (report_write_run_json(dir, &r, &err) || report_write_page(dir, NULL, &err))
        fprintf(stderr, "%s: the run page: %s\n", h->name, err.msg);
}

/* The figures given with harness_result: written to DIR/JSON (result.json, eval.json), the
 * page rewritten (status: run.json's new status, or NULL to keep it), its path printed, then
 * the "result:" line itself, as the last line of the run. */
static void result_emit(const harness *h, const char *dir, const char *json,
                        const char *status, const char *settings) {
    static char buf[sizeof result_text];
    const char *keys[512], *values[512];
    int n = 0;
    memcpy(buf, result_text, sizeof buf);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok && n < 512;
         tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = 0;
        keys[n] = tok, values[n++] = eq + 1;
    }
    nn_error err;
    if (report_write_figures_json(dir, json, keys, values, n, &err))
        fprintf(stderr, "%s: the run page: %s\n", h->name, err.msg);
    if (status) page_write(h, dir, status, settings);
    else if (report_write_page(dir, NULL, &err))
        fprintf(stderr, "%s: the run page: %s\n", h->name, err.msg);
    char page[4096];
    if (!outdir_join(page, sizeof page, dir, "index.html")) printf("run page: %s\n", page);
    if (result_text[0]) printf("result:%s\n", result_text);
    fflush(stdout);
}

/* ---- --export and weights-only loads (docs/safetensors.md) ------------------------------- */

static bool is_state(const harness *h, const char *name) {
    static const char *const optim[] = {"optim.", NULL};
    for (const char *const *p = h->state_prefixes ? h->state_prefixes : optim; *p; p++)
        if (!strncmp(name, *p, strlen(*p))) return true;
    return false;
}

/* Is path an --export?  Only a regular file is opened to look (a FIFO would block the
 * open); anything else goes to the checkpoint reader, which says what is wrong with it. */
static bool is_export(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && nn_safetensors_probe(path);
}

/* The model's tensors: what the checkpoint holds less the training state (names as there). */
static void weights_of(const harness *h, nn_param_list *w) {
    for (int i = 0; i < h->saved->n; i++)
        if (!is_state(h, h->saved->items[i].name))
            nn_params_add(w, NULL, h->saved->items[i].name, h->saved->items[i].value,
                          h->saved->items[i].trainable);
}

/* --export: the weights and, in __metadata__, the settings text (what --eval rebuilds the
 * model from), the epoch and step, and the program's own keys.  0, or 1 after a message. */
static int export_weights(harness *h) {
    if (!h->flags.export_to) return 0;
    char epoch[32], step[32];
    snprintf(epoch, sizeof epoch, "%lld", (long long)h->meta.epoch);
    snprintf(step, sizeof step, "%lld", (long long)h->meta.step);
    const char *meta[64] = {"format", "henbun", "program", h->name, "precision", AG_REAL_NAME,
                            "config", h->meta.text, "epoch", epoch, "step", step};
    int n = 12;
    const char *const *mine = h->export_meta ? h->export_meta(h) : NULL;
    for (; mine && *mine && mine[1] && n < 62; mine += 2) meta[n++] = mine[0], meta[n++] = mine[1];
    meta[n] = NULL;
    nn_param_list w = {0};
    weights_of(h, &w);
    nn_error err;
    int rc = nn_safetensors_save(h->flags.export_to, &w, meta, &err);
    nn_params_free(&w);
    if (rc) {
        fprintf(stderr, "%s: --export: %s\n", h->name, err.msg);
        return 1;
    }
    printf("weights in %s (safetensors: spec text and settings in its __metadata__)\n",
           h->flags.export_to);
    return 0;
}

/* --eval of a .safetensors that --export wrote: its settings into h->meta (as a checkpoint's
 * would be).  0, or 1 after a message naming the file. */
static int export_info(harness *h, const char *path) {
    nn_error err;
    nn_safetensors *f = nn_safetensors_open(path, &err);
    if (!f) {
        fprintf(stderr, "%s: %s\n", h->name, err.msg);
        return 1;
    }
    const char *prog = nn_safetensors_meta(f, "program");
    const char *text = nn_safetensors_meta(f, "config");
    const char *epoch = nn_safetensors_meta(f, "epoch"), *step = nn_safetensors_meta(f, "step");
    int code = 0;
    char *end1 = NULL, *end2 = NULL;
    if (!prog || strcmp(prog, h->name) || !text) {
        fprintf(stderr, "%s: %s: not a %s export (its __metadata__ has %s)\n", h->name, path,
                h->name, !prog ? "no 'program'" : strcmp(prog, h->name) ? "another 'program'"
                                                                         : "no 'config'");
        code = 1;
    } else if (strlen(text) >= sizeof h->meta.text) {
        fprintf(stderr, "%s: %s: 'config' is too long\n", h->name, path);
        code = 1;
    } else {
        memset(&h->meta, 0, sizeof h->meta);
        memcpy(h->meta.text, text, strlen(text) + 1);
        h->meta.epoch = epoch ? strtoll(epoch, &end1, 10) : 0;
        h->meta.step = step ? strtoll(step, &end2, 10) : 0;
        if ((end1 && *end1) || (end2 && *end2)) {
            fprintf(stderr, "%s: %s: field 'epoch' or 'step' is not a whole number\n", h->name, path);
            code = 1;
        }
    }
    nn_safetensors_close(f);
    return code;
}

/* --eval: the weights only, from a checkpoint (its training state passed over) or from a
 * .safetensors export.  0, or -1 with err. */
static int load_weights(harness *h, const char *path, nn_error *err) {
    nn_param_list w = {0};
    weights_of(h, &w);
    int rc;
    if (is_export(path)) {
        nn_safetensors *f = nn_safetensors_open(path, err);
        rc = f ? (nn_safetensors_read(f, &w, NULL, err) < 0 ? -1 : 0) : -1;
        nn_safetensors_close(f);
    } else {
        rc = nn_checkpoint_load_weights(path, &w, &h->meta, err);
    }
    nn_params_free(&w);
    return rc;
}

/* ---- spec text errors --------------------------------------------------------------------- */

void harness_spec_error(const harness *h, const char *msg, int n, const char *const *names,
                        const char *const *flags, const char *const *texts) {
    for (int i = 0; i < n; i++) {
        size_t k = strlen(names[i]);
        if (strncmp(msg, names[i], k) || strncmp(msg + k, ": ", 2)) continue;
        char prefix[128];
        snprintf(prefix, sizeof prefix, "%s: %s", h->name, flags[i]);
        nn_spec_print_error(stderr, prefix, texts[i], msg + k + 2);
        return;
    }
    fprintf(stderr, "%s: %s\n", h->name, msg);
}

/* ---- flags and checkpoint fields --------------------------------------------------------- */

/* The option whose value is the setting's (the flag that sets it), or NULL. */
static const cli_opt *flag_of(const harness *h, const setting *s) {
    for (const cli_opt *o = h->opts; o->name; o++)
        if (o->dst == s->value) return o;
    return NULL;
}

/* Was --NAME given on the command line? */
static bool given(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, n) &&
            (argv[i][2 + n] == 0 || argv[i][2 + n] == '='))
            return true;
    return false;
}

static bool in_list(const char *const *list, const char *key) {
    for (; list && *list; list++)
        if (!strcmp(*list, key)) return true;
    return false;
}

/* Is the word v (len bytes) one of the '|'-separated choices? */
static bool is_choice(const char *choices, const char *v, size_t len) {
    for (const char *c = choices; *c;) {
        size_t k = strcspn(c, "|");
        if (k == len && !strncmp(c, v, len)) return true;
        c += k + (c[k] == '|');
    }
    return false;
}

/* The table's defaults of the numeric options, before the flags: like cli_parse, a field
 * holding its default (0 for "automatic") is good though the user may not type it. */
static double defaults[128];

static double opt_value(const cli_opt *o);

void harness_note_defaults(const harness *h) {
    for (int i = 0; h->opts[i].name && i < 128; i++) defaults[i] = opt_value(&h->opts[i]);
}

static double opt_value(const cli_opt *o) {
    return o->type == CLI_INT ? *(int *)o->dst : o->type == CLI_U64 ? (double)*(uint64_t *)o->dst
                              : o->type == CLI_REAL ? *(double *)o->dst : NAN;
}

/* A checkpoint's settings are read like flags: every field that is there must be there once
 * (settings_read keeps the last), parse whole, be finite, fit its type, lie in its flag's
 * range and (for a choice) be one of the choices.  0, or -1 with why. */
int harness_check_fields(const harness *h, const char *text, char *why, size_t n) {
    for (const setting *s = h->remembered; s->key; s++) {
        const char *v = settings_value(text, s->key);
        if (!v) continue;
        size_t len = strcspn(v, "\n");
        if (v[len] && settings_value(v + len + 1, s->key)) {
            snprintf(why, n, "field '%s' appears twice", s->key);
            return -1;
        }
        char buf[512];
        if (len >= sizeof buf) {
            snprintf(why, n, "field '%s' is %zu bytes long", s->key, len);
            return -1;
        }
        memcpy(buf, v, len), buf[len] = 0;
        char *end = buf;
        const cli_opt *o = flag_of(h, s);
        double x = 0; /* the number, for o's range */
        bool good = len > 0 && (s->kind == SET_STRING || (buf[0] != ' ' && buf[0] != '\t'));
        errno = 0;
        switch (s->kind) {
        case SET_INT: { long k = strtol(buf, &end, 10); good &= k >= INT_MIN && k <= INT_MAX; x = (double)k; break; }
        case SET_LONG: x = (double)strtol(buf, &end, 10); break;
        case SET_U64: good &= buf[0] != '-'; x = (double)strtoull(buf, &end, 10); break;
        case SET_DOUBLE: x = strtod(buf, &end); good &= isfinite(x); break;
        case SET_BOOL: good &= !strcmp(buf, "0") || !strcmp(buf, "1"); end = buf + len; break;
        case SET_STRING:
            good = !o || o->type != CLI_CHOICE || is_choice(o->metavar, buf, len);
            end = buf + len;
            break;
        }
        bool number = o && (o->type == CLI_INT || o->type == CLI_U64 || o->type == CLI_REAL);
        bool is_default = o && o - h->opts < 128 && x == defaults[o - h->opts]; /* "0: auto" */
        if (good && !errno && !*end && number && !is_default && !cli_in_range(o, x)) {
            snprintf(why, n, "field '%s' holds %s, outside the range of --%s (see --help)",
                     s->key, buf, o->name);
            return -1;
        }
        if (!good || errno || *end) {
            snprintf(why, n, "field '%s' holds '%s', which is not a valid %s", s->key, buf,
                     s->kind == SET_STRING ? "choice" : s->kind == SET_DOUBLE ? "finite number"
                                                                          : "value");
            return -1;
        }
    }
    return 0;
}

/* One setting as the checkpoint writes it ("lr=0.001"), into buf. */
static const char *setting_text(const setting *s, char *buf, size_t n) {
    buf[0] = 0;
    settings_append(buf, n, (setting[]){*s, {0}});
    buf[strcspn(buf, "\n")] = 0;
    return buf;
}

/* Reads the settings of checkpoint `path` (text in h->meta) into the program's variables.
 * A flag given on the command line whose key may change wins over the checkpoint; for
 * --resume, any other must agree with it.  0, or an exit status after a message. */
static int read_settings(harness *h, const char *path, bool resuming, int argc, char **argv) {
    static char text[NN_CKPT_TEXT_MAX], keep[NN_CKPT_TEXT_MAX]; /* strings point here */
    char why[768], mine[512], theirs[512];
    if (harness_check_fields(h, h->meta.text, why, sizeof why)) {
        fprintf(stderr, "%s: %s: %s\n", h->name, path, why);
        return 1;
    }
    snprintf(keep, sizeof keep, "program=%s\n", h->name); /* the flags that win */
    for (const setting *s = h->remembered; s->key; s++) {
        const cli_opt *o = flag_of(h, s);
        const char *v = settings_value(h->meta.text, s->key);
        if (!o || !v || !given(argc, argv, o->name)) continue;
        setting_text(s, mine, sizeof mine);
        if (in_list(h->may_change, s->key)) {
            settings_append(keep, sizeof keep, (setting[]){*s, {0}});
            continue;
        }
        if (!resuming) continue; /* --eval: the checkpoint's settings make the model */
        snprintf(theirs, sizeof theirs, "%s=%.*s", s->key, (int)strcspn(v, "\n"), v);
        if (strcmp(mine, theirs)) {
            fprintf(stderr, "%s: %s was made with other flags: %s in the checkpoint, %s here\n",
                    h->name, path, theirs, mine);
            return 1;
        }
    }
    memcpy(text, h->meta.text, sizeof text);
    if (settings_read(text, h->name, h->remembered, path)) return 1;
    settings_read(keep, h->name, h->remembered, path);
    if (h->check && h->check(h, why, sizeof why)) {
        fprintf(stderr, "%s: %s: %s\n", h->name, path, why);
        return 1;
    }
    return 0;
}

/* ---- training ---------------------------------------------------------------------------- */

/* Under mpirun with more than one rank?  (h->dist is NULL for a program that calls
 * harness_begin/run/end itself: one process.) */
static bool multi(const harness *h) { return h->dist && nn_dist_size(h->dist) > 1; }
/* The run ended on every rank at the same step (a NaN, a stop request): no abort. */
static bool ended_together;

bool harness_root(const harness *h) { return !h->dist || nn_dist_is_root(h->dist); }

/* All n rows: the share of the only process. */
static nn_dist_shard whole(int n) { return (nn_dist_shard){.count = n, .global = n, .weight = 1}; }

nn_batch harness_batch(harness *h, ag_tape *t) {
    nn_batch b;
    if (!nn_batcher_next(h->batcher, t, &b)) ag_error(h->name, "batcher ran dry inside an epoch");
    h->global_examples += b.size;
    /* Every rank got the same global batch b; it keeps its rows. */
    h->shard = multi(h) ? nn_dist_shard_batch(h->dist, t, &b) : whole(b.size);
    h->step_examples += b.size;
    return b;
}

int harness_rows(harness *h, int n) {
    h->shard = multi(h) ? nn_dist_shard_of(h->dist, n) : whole(n);
    return h->shard.count;
}

void harness_skip_draws(harness *h, ag_tape *t, uint64_t per_row, bool after) {
    if (!multi(h)) return;
    const nn_dist_shard *s = &h->shard;
    nn_dist_rng_skip(ag_tape_rng(t),
                     per_row * (uint64_t)(after ? s->global - s->offset - s->count : s->offset));
}

bool harness_backward_of(harness *h, ag_tape *t, ag_tensor *loss, const nn_param_list *params) {
    if (!multi(h)) {
        ag_backward(t, loss);
        return isfinite(ag_item(loss));
    }
    int k = 0; /* the sum of this list, made at its first use (the first step) */
    while (k < 4 && h->grads[k] && h->grads_of[k] != params) k++;
    if (k == 4) ag_error(h->name, "harness_backward_of: more than 4 parameter lists");
    if (!h->grads[k]) h->grads[k] = nn_dist_grads_new(h->dist, params, 0), h->grads_of[k] = params;
    h->last_grads = h->grads[k];
    int f = nn_dist_backward(h->grads[k], t, loss, h->shard.weight,
                             run_stop_requested() ? NN_DIST_STOP : 0);
    h->dist_flags |= f;
    return !(f & NN_DIST_NONFINITE);
}

bool harness_backward(harness *h, ag_tape *t, ag_tensor *loss) {
    return harness_backward_of(h, t, loss, h->params);
}

/* Saves the checkpoint: the settings, the program's lines, and the running sums of an
 * epoch stopped half-way (sums non-NULL). */
static int save(harness *h, const char *ckpt, long epoch, const double *sums) {
    if (!harness_root(h)) return 0; /* rank 0 writes it */
    h->meta.epoch = epoch, h->meta.step = h->step;
    settings_write(h->meta.text, sizeof h->meta.text, h->name, h->remembered);
    if (h->meta_text) h->meta_text(h, h->meta.text, sizeof h->meta.text);
    if (sums) run_text_put(h->meta.text, sizeof h->meta.text, "epoch_sums", sums, 1 + h->n_stats);
    int rc = run_save_checkpoint(h->name, ckpt, h->saved, &h->meta);
    if (rc && multi(h)) nn_dist_abort(h->dist, "could not save %s: ending every rank", ckpt);
    return rc;
}

/* Runs a hook of rank 0 alone (evaluation, pictures, the result): the other ranks go on to
 * the next step's sums and wait there.  Synchronized batch norm is off meanwhile (a
 * forward pass there must not wait for ranks that do not run it). */
static void root_only(harness *h, bool begin) {
    if (multi(h) && h->flags.sync_bn) nn_dist_sync_batchnorm(h->dist, !begin);
}

/* Why the run stops: the signal this rank got, else another rank's. */
static const char *stop_name(void) {
    return run_stop_signal() ? run_stop_signal() : "a stop request on another rank";
}

/* The command that resumes the run (and, under mpirun, that any number of ranks may). */
static void print_resume(const harness *h, int argc, char **argv, const char *ckpt) {
    run_print_resume(argc, argv, ckpt);
    if (multi(h))
        fprintf(stderr, "  (under mpirun -np N, with %d or any other number of ranks)\n",
                nn_dist_size(h->dist));
}

/* The epochs from the checkpoint's (or the first) to the end; returns the exit status. */
static int train(harness *h, int argc, char **argv, ag_tape *t, ag_rng *data_rng,
                 const char *ckpt, nn_csv *csv, double *sums, long total) {
    run_flags *f = &h->flags;
    const char *noun = h->step_name ? h->step_name : "step";
    const int per_step = h->batches_per_step > 0 ? h->batches_per_step : 1;
    const bool root = harness_root(h), dist = multi(h);
    char where[64] = ""; /* "holdout 3, " before an epoch, for a program of several runs */
    if (h->run_label) snprintf(where, sizeof where, "%s, ", h->run_label);
    nn_progress_opts po = {.mode = f->quiet ? NN_PROGRESS_PLAIN : NN_PROGRESS_AUTO,
                           .n_values = h->n_bar};
    for (int i = 0; i < h->n_bar; i++) po.names[i] = h->stats[i];
    /* The bar's ETA covers the whole run, not only the epoch: examples per step times the
     * run's steps, less those a resumed run already did. */
    double per = h->batcher ? (double)nn_batcher_num_examples(h->batcher) / h->per_epoch : 1;
    po.run_total = (long)(per * (double)total + 0.5);
    nn_progress *bar = root ? nn_progress_new(&po) : NULL; /* rank 0 shows it */
    if (bar && h->step > 0) nn_progress_resume(bar, (long)(per * (double)h->step + 0.5));
    int code = 0;
    nn_error err;
    run_catch_signals();
    for (long epoch = h->step / h->per_epoch; h->step < total && !code; epoch++) {
        long end = (epoch + 1) * h->per_epoch < total ? (epoch + 1) * h->per_epoch : total;
        char label[112];
        snprintf(label, sizeof label, "%sepoch %ld/%d", where, epoch + 1, h->n_epochs);
        h->epoch = (int)epoch;
        uint64_t stream = h->order_stream ? h->order_stream : 1;
        ag_rng_seed(data_rng, run_seed(f->seed, stream, (uint64_t)epoch)); /* its order */
        long examples = h->batcher ? nn_batcher_num_examples(h->batcher) : end - h->step;
        long left = h->batcher ? (end - h->step) * per_step * f->batch : end - h->step;
        if (bar) nn_progress_begin(bar, label, left < examples ? left : examples);
        h->epoch_t0 = run_seconds();
        clock_t cpu0 = clock();
        /* After a mid-epoch stop, skip the batches already trained on: the same order. */
        nn_batch b;
        for (long skip = (h->step - epoch * h->per_epoch) * per_step;
             h->batcher && skip > 0 && nn_batcher_next(h->batcher, t, &b); skip--)
            ag_tape_clear(t);
        bool stopped = false;
        while (!stopped && h->step < end) {
            double stats[HARNESS_MAX_STATS];
            h->step_examples = !h->batcher; /* harness_batch counts them (without data, the
                                               bar counts steps; a step may set its own) */
            h->global_examples = h->step_examples, h->dist_flags = 0;
            harness_step r = h->train_step(h, t, stats);
            if (dist && !h->last_grads) /* ag_backward alone: N ranks would be N runs */
                nn_dist_abort(h->dist, "%s's training step does not sum its gradients over the "
                                       "ranks (harness_backward): run it without mpirun", h->name);
            if (dist) { /* decided alike on every rank: the flags and the norm are global */
                if ((h->dist_flags & NN_DIST_NONFINITE) || !isfinite(r.grad_norm)) {
                    if (root && run_check_finite(h->name, r.loss, r.grad_norm, h->params,
                                                 "%sepoch %ld %s %ld", where, epoch + 1, noun,
                                                 h->step + 1))
                        run_report_nonfinite(h->name, h->params, "%sepoch %ld %s %ld", where,
                                             epoch + 1, noun, h->step + 1);
                    if (root)
                        fprintf(stderr, "%s: a NaN or an inf on %d of %d ranks: every rank "
                                        "stops\n", h->name,
                                nn_dist_grads_nonfinite_ranks(h->last_grads), nn_dist_size(h->dist));
                    code = 1, ended_together = true;
                    break;
                }
            } else if (!run_check_finite(h->name, r.loss, r.grad_norm, h->params,
                                         "%sepoch %ld %s %ld", where, epoch + 1, noun, h->step + 1)) {
                code = 1;
                break;
            }
            h->step++, h->steps_done++;
            /* An epoch's means weigh a step by its examples, or equally (then this rank's
             * part of a step is its share of the rows): the sums over the ranks, taken at
             * the end of the epoch, are one process's. */
            double w = !h->steps_weigh_equally ? h->step_examples : dist ? h->shard.weight : 1;
            sums[0] += w;
            for (int i = 0; i < h->n_stats; i++) {
                bool count = h->counts >> i & 1;
                sums[1 + i] += count ? stats[i] : stats[i] * w;
                if (count) stats[i] /= h->step_examples; /* the bar shows the fraction */
            }
            if (bar) nn_progress_step(bar, dist ? h->global_examples : h->step_examples, stats);
            stopped = run_step_done();
            if (dist) stopped = h->dist_flags & NN_DIST_STOP; /* seen by every rank at once */
        }
        while (h->batcher && nn_batcher_next(h->batcher, t, &b)) ag_tape_clear(t); /* leftovers */
        if (bar) nn_progress_end(bar);
        if (code) break;
        if (dist) nn_dist_sum(h->dist, sums, 1 + h->n_stats); /* each rank held its part */
        h->epoch_seconds = run_seconds() - h->epoch_t0;
        h->train_cpu += (double)(clock() - cpu0) / CLOCKS_PER_SEC;
        if (h->step < end) { /* a signal stopped the epoch half-way */
            code = run_stop_status(), ended_together = true;
            if (!save(h, ckpt, epoch, sums) && root) {
                fprintf(stderr, "%s: %s: stopped at %sepoch %ld %s %ld (%ld of %ld %ss); "
                                "checkpoint %s\n", h->name, stop_name(), where, epoch + 1, noun,
                        h->step, h->step - epoch * h->per_epoch, h->per_epoch,
                        per_step == 1 && !h->step_name ? "batche" : noun, ckpt);
                print_resume(h, argc, argv, h->resume_in_out ? NULL : ckpt);
            }
            break;
        }
        double mean[HARNESS_MAX_STATS], row[HARNESS_MAX_COLUMNS] = {
            h->batcher ? (double)(epoch + 1) : (double)h->step}; /* without data: the step */
        for (int i = 0; i < h->n_stats; i++) mean[i] = sums[1 + i] / sums[0];
        memset(sums, 0, sizeof(double) * (size_t)(1 + h->n_stats));
        root_only(h, true);
        if (root) h->epoch_end(h, mean, row);
        h->train_seconds += h->epoch_seconds;
        h->total_seconds += run_seconds() - h->epoch_t0;
        h->epochs_done++;
        if (csv && nn_csv_row(csv, row, &err)) fprintf(stderr, "%s: %s\n", h->name, err.msg);
        bool stop = dist ? stopped : run_stop_requested(); /* under N ranks: as every rank saw */
        bool due = h->save_every <= 1 || (epoch + 1) % h->save_every == 0 || h->step == total ||
                   stop;
        if (due && save(h, ckpt, h->step / h->per_epoch, NULL)) {
            code = 1;
            break;
        }
        if (root && h->pictures && (f->pictures_every <= 1 ||
                                    (epoch + 1) % f->pictures_every == 0 || h->step == total))
            h->pictures(h);
        if (root) page_write(h, f->out, "running", h->meta.text); /* the page follows the run */
        root_only(h, false);
        if (stop && h->step < total) { /* between epochs: nothing lost */
            if (root) {
                fprintf(stderr, "%s: %s: stopped after %sepoch %ld (%s %ld); checkpoint %s\n",
                        h->name, stop_name(), where, epoch + 1, noun, h->step, ckpt);
                print_resume(h, argc, argv, h->resume_in_out ? NULL : ckpt);
            }
            code = run_stop_status(), ended_together = true;
        }
    }
    nn_progress_free(bar);
    return code;
}

/* ---- the out folder ---------------------------------------------------------------------- */

/* Makes DIR and takes its lock for the rest of the process (two runs never share a folder),
 * then removes what killed runs left.  0, or exit status 1 after a message. */
static int outdir_take(const harness *h, const char *dir) {
    static int lock = -1;
    nn_error err;
    if (run_mkdir(dir, &err)) {
        fprintf(stderr, "%s: %s\n", h->name, err.msg);
        return 1;
    }
    if (lock >= 0) return 0;
    if ((lock = outdir_lock(h->name, dir)) < 0) return 1;
    outdir_clean_stale(h->name, dir);
    return 0;
}

/* --eval: the hook's figures go to eval.json beside the checkpoint (or in --out), and the
 * page of that folder shows them. */
static int eval_run(harness *h, const char *ckpt) {
    static char dir[4096];
    const char *out = h->flags.out = given(h->argc, h->argv, "out")
                                         ? h->flags.out : run_dirname(dir, sizeof dir, ckpt);
    if (outdir_take(h, out)) return 1; /* the hook may draw into it (vae: kl_dims.png) */
    int code = h->eval(h);
    if (code) return code;
    char path[4096];
    bool has_run = !outdir_join(path, sizeof path, out, "run.json") && !access(path, F_OK);
    result_emit(h, out, "eval.json", has_run ? NULL : "done", h->meta.text);
    return 0;
}

/* ---- the program ------------------------------------------------------------------------- */

static int open_log(harness *h, const char *log, nn_csv **csv);

/* Everything after the data and the model exist; returns the exit status. */
static int run(harness *h, int argc, char **argv, const char *ckpt_in) {
    run_flags *f = &h->flags;
    nn_error err;
    if (ckpt_in) {
        if (f->eval ? load_weights(h, ckpt_in, &err)
                    : nn_checkpoint_load(ckpt_in, h->saved, &h->meta, &err)) {
            fprintf(stderr, "%s: %s\n", h->name, err.msg);
            return 1;
        }
        const nn_param *bad = nn_params_first_nonfinite(h->saved, false);
        if (bad) {
            fprintf(stderr, "%s: %s: '%s' holds a NaN or an inf\n", h->name, ckpt_in, bad->name);
            return 1;
        }
        if (h->meta.epoch < 0 || h->meta.epoch > INT_MAX || h->meta.step < 0 ||
            h->meta.step > LONG_MAX / 2) {
            fprintf(stderr, "%s: %s: field 'epoch' or 'step' out of range (%lld, %lld)\n",
                    h->name, ckpt_in, (long long)h->meta.epoch, (long long)h->meta.step);
            return 1;
        }
        h->start_epoch = (int)h->meta.epoch;
        h->step = (long)h->meta.step;
    }
    const bool root = harness_root(h), dist = multi(h);
    if (dist) nn_dist_broadcast(h->dist, h->saved); /* every rank starts from rank 0's */
    if (h->describe && (!f->quiet || f->eval) && root) h->describe(h);
    if (f->eval) { /* rank 0 measures (and converts, with --export); the others are done */
        root_only(h, true);
        if (!root) return 0;
        int code = export_weights(h); /* --eval CKPT --export F converts a checkpoint */
        return code ? code : eval_run(h, ckpt_in);
    }

    /* The batches, and the checks of a resumed step, before anything is written. */
    ag_rng data_rng;
    nn_batch_opts bo = h->batching;
    bo.batch_size = f->batch;
    const int per_step = h->batches_per_step > 0 ? h->batches_per_step : 1;
    if (h->train) h->batcher = nn_batcher_new(h->train, &bo, &data_rng);
    const long per_epoch = h->per_epoch = h->train ? nn_batcher_num_batches(h->batcher) / per_step
                                                   : h->steps_per_epoch;
    if (per_epoch < 1 && !h->train) ag_error(h->name, "harness: no data and no steps_per_epoch");
    if (per_epoch < 1) {
        fprintf(stderr, "%s: %d training images make no %s of %d batches of %d\n", h->name,
                h->train->n, h->step_name ? h->step_name : "step", per_step, f->batch);
        return 2;
    }
    const long total = h->max_steps > 0 ? h->max_steps : (long)f->epochs * per_epoch;
    h->n_epochs = (int)((total + per_epoch - 1) / per_epoch);
    if (h->step < h->start_epoch * per_epoch || h->step >= (h->start_epoch + 1) * per_epoch) {
        fprintf(stderr, "%s: %s: step %ld is not in epoch %d of this data set (%ld batches "
                        "an epoch): was it trained on other data?\n", h->name, ckpt_in, h->step,
                h->start_epoch + 1, per_epoch);
        return 1;
    }
    /* A run stopped inside an epoch left that epoch's examples and sums in its checkpoint,
     * so the resumed epoch reports the means of all of it. */
    double sums[1 + HARNESS_MAX_STATS] = {0};
    if ((ckpt_in && run_text_get(h->meta.text, "epoch_sums", sums, 1 + h->n_stats)) || !root)
        memset(sums, 0, sizeof sums); /* under N ranks rank 0 holds them: they are summed */
    char ckpt[4096], log[4096];
    harness_path(h, ckpt, sizeof ckpt, h->ckpt_name);
    harness_path(h, log, sizeof log, "log.csv");
    nn_csv *csv = NULL;
    int code;
    if (root) { /* rank 0 writes files: the folder (locked), the log, the page */
        if ((code = outdir_take(h, f->out)) || (code = open_log(h, log, &csv))) return code;
        static char settings[NN_CKPT_TEXT_MAX];
        settings_write(settings, sizeof settings, h->name, h->remembered);
        page_write(h, f->out, "running", settings);
    }
    ag_tape *t = h->tape = ag_tape_new(f->seed);
    if (h->begin_training) h->begin_training(h, t, ckpt_in != NULL);
    code = train(h, argc, argv, t, &data_rng, ckpt, csv, sums, total);
    for (int k = 0; k < 4; k++) /* the sums belong to this model's parameters */
        nn_dist_grads_free(h->grads[k]), h->grads[k] = NULL, h->grads_of[k] = NULL;
    h->last_grads = NULL;
    if (csv && nn_csv_close(csv, &err)) fprintf(stderr, "%s: %s\n", h->name, err.msg);
    root_only(h, true);
    if (!code && root) code = export_weights(h);
    if (!root) {
        /* the lines below are rank 0's */
    } else if (!code && !h->result) {
        /* a program of several runs reports after them */
        page_write(h, f->out, "done", h->meta.text);
    } else if (!code && h->steps_done > 0) {
        h->result(h);
        result_emit(h, f->out, "result.json", "done", h->meta.text);
    } else if (code) {
        page_write(h, f->out, code >= 128 ? "stopped" : "failed", h->meta.text);
        char page[4096];
        if (!outdir_join(page, sizeof page, f->out, "index.html"))
            fprintf(stderr, "%s: run page: %s\n", h->name, page);
    } else if (!code && h->step_name)
        printf("nothing to do: the checkpoint is already at %s %ld (raise --epochs or --iters)\n",
               h->step_name ? h->step_name : "step", h->step);
    else if (!code)
        printf("nothing to do: the checkpoint is already at epoch %d (raise --epochs)\n",
               h->start_epoch);
    if (!code && h->steps_done == 0 && root && h->result) page_write(h, f->out, "done", h->meta.text);
    ag_tape_free(t);
    h->tape = NULL;
    return code;
}

/* Makes --out and log.csv (a fresh one, or rewound to the checkpoint on --resume). */
static int open_log(harness *h, const char *log, nn_csv **csv) {
    run_flags *f = &h->flags;
    nn_error err;
    if (run_mkdir(f->out, &err)) {
        fprintf(stderr, "%s: %s\n", h->name, err.msg);
        return 1;
    }
    /* A fresh run starts a fresh log; a resumed one drops the rows of epochs the
     * checkpoint has not seen (written after it, they are written again). */
    double upto = h->log_step_column > 0 || !h->train ? (double)h->step : (double)h->start_epoch;
    if (!h->columns) return 0; /* no log */
    if (!f->resume) remove(log);
    else if (run_log_rewind(log, h->log_step_column, 1, &upto, &err)) {
        fprintf(stderr, "%s: %s\n", h->name, err.msg);
        return 1;
    }
    if (!(*csv = nn_csv_open(log, h->n_columns, h->columns, &err))) {
        fprintf(stderr, "%s: %s\n", h->name, err.msg);
        return 1;
    }
    return 0;
}

bool harness_given(const harness *h, const char *name) { return given(h->argc, h->argv, name); }

/* What the command line says before any file is read: go on, stop (--help or --version was
 * printed) or a usage error (printed). */
enum { GO_ON, STOP_DONE, STOP_USAGE };

static int parse_flags(harness *h, int argc, char **argv) {
    run_flags *f = &h->flags;
    int rc = cli_parse(argc, argv, h->cli, h->opts);
    if (rc) return rc < 0 ? STOP_USAGE : STOP_DONE;
    if (f->eval && f->resume) {
        const char *eval = "eval"; /* as the program calls it */
        for (const cli_opt *o = h->opts; o->name; o++)
            if (o->dst == &f->eval) eval = o->name;
        fprintf(stderr, "%s: --%s and --resume exclude each other\n", h->name, eval);
        return STOP_USAGE;
    }
    char why[512];
    if (h->check && h->check(h, why, sizeof why)) {
        fprintf(stderr, "%s: %s\n", h->name, why);
        return STOP_USAGE;
    }
    return GO_ON;
}

/* Under mpirun every rank usually gets the same flags and meets the same usage error, but an
 * MPMD launch (`mpirun -np 1 prog A : -np 1 prog B`) gives each its own: a rank that stopped
 * alone would leave the others waiting in their first sum.  So the ranks agree first: one
 * usage error stops every rank with status 2, one --help stops every rank with 0. */
static int agree_on_flags(harness *h, int mine) {
    if (!multi(h)) return mine;
    double votes[2] = {mine == STOP_USAGE, mine == STOP_DONE};
    nn_dist_sum(h->dist, votes, 2);
    if (votes[0] > 0 && mine != STOP_USAGE)
        fprintf(stderr, "%s: rank %d of %d: another rank's flags were refused (see above)\n",
                h->name, nn_dist_rank(h->dist), nn_dist_size(h->dist));
    return votes[0] > 0 ? STOP_USAGE : votes[1] > 0 ? STOP_DONE : mine;
}

bool harness_begin(harness *h, int argc, char **argv, int *code) {
    run_flags *f = &h->flags;
    h->argc = argc, h->argv = argv;
    if (h->n_stats < 1 || h->n_stats > HARNESS_MAX_STATS || h->n_bar > h->n_stats ||
        h->n_bar > NN_PROGRESS_MAX_VALUES || (h->columns && h->n_columns < 1) ||
        h->n_columns > HARNESS_MAX_COLUMNS)
        ag_error(h->name, "harness: n_stats, n_bar or n_columns out of range");
    ended_together = true; /* until a file is read, every rank meets the same errors */
    harness_note_defaults(h);
    int rc = agree_on_flags(h, parse_flags(h, argc, argv));
    if (rc) return *code = rc == STOP_USAGE ? 2 : 0, false;
    ended_together = false;
    const char *ckpt_in = f->eval ? f->eval : f->resume;
    if (ckpt_in) { /* the model comes from the checkpoint */
        nn_error err;
        if (is_export(ckpt_in)) { /* an --export: weights and settings only */
            if (f->resume) {
                fprintf(stderr, "%s: --resume %s: a .safetensors holds the weights only, not "
                                "the optimizer's state: resume from the checkpoint\n", h->name,
                        ckpt_in);
                return *code = 1, false;
            }
            if ((rc = export_info(h, ckpt_in))) return *code = rc, false;
        } else if (nn_checkpoint_info(ckpt_in, &h->meta, NULL, &err)) {
            fprintf(stderr, "%s: %s\n", h->name, err.msg);
            return *code = 1, false;
        }
        if ((rc = read_settings(h, ckpt_in, f->resume != NULL, argc, argv)))
            return *code = rc, false;
    }
    static char out_buf[4096]; /* --resume writes beside its checkpoint unless told */
    if (f->resume && !given(argc, argv, "out"))
        f->out = run_dirname(out_buf, sizeof out_buf, f->resume);
    if (f->out && outdir_check_path(h->name, "out", f->out, 64)) /* never cut short */
        return *code = 2, false;
    h->threads = run_threads(f->threads);
    if (f->fp_trap && run_fp_trap(h->name)) return *code = 2, false;
    if (multi(h)) nn_dist_sync_batchnorm(h->dist, f->sync_bn);
    return !(*code = h->load ? h->load(h) : 0); /* no load: no data set */
}

int harness_run(harness *h, const char *ckpt) {
    h->step = h->steps_done = 0, h->start_epoch = h->epochs_done = 0; /* a new model */
    h->train_seconds = h->total_seconds = h->train_cpu = 0;
    int code = h->build(h);
    if (!code) code = run(h, h->argc, h->argv, ckpt);
    nn_batcher_free(h->batcher);
    h->batcher = NULL;
    return code;
}

void harness_end(harness *h) {
    nn_dataset_free(h->train);
    nn_dataset_free(h->test);
    h->train = h->test = NULL;
}

static int main_body(harness *h, int argc, char **argv) {
    int code;
    if (harness_begin(h, argc, argv, &code)) code = harness_run(h, h->flags.eval ? h->flags.eval
                                                                                 : h->flags.resume);
    if (h->release) h->release(h);
    harness_end(h);
    return code;
}

int harness_main(harness *h, int argc, char **argv) {
    h->dist = nn_dist_init(&argc, &argv);
    if (!harness_root(h) && !freopen("/dev/null", "w", stdout)) /* rank 0 prints */
        nn_dist_abort(h->dist, "cannot open /dev/null");
    int code = main_body(h, argc, argv);
    /* A rank that fails alone (a file it cannot read) must not leave the others waiting in
     * a sum: any failure not reached by every rank together ends the whole job. */
    if (code && multi(h) && !ended_together) {
        fflush(stdout);
        nn_dist_abort(h->dist, "%s stopped with exit status %d (see above): ending every rank",
                      h->name, code);
    }
    nn_dist_finalize(h->dist);
    return code;
}
