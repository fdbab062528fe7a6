/* report.c — the run page and the compare page from the command line: rewrites a run
 * folder's index.html from what it holds, or writes one page comparing several runs.
 * The training programs write their page themselves; this is for a folder copied from
 * elsewhere, a run still training elsewhere, or a sweep to compare.  See
 * examples/common/report.h for what a run folder holds.
 */
#include "examples/common/cli.h"
#include "examples/common/report.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: report [--refresh S] OUT_DIR\n"
    "       report --compare DIR1 DIR2 ... -o PAGE.html\n"
    "\n"
    "Writes OUT_DIR/index.html: the command, the result figures (result.json), --eval's\n"
    "measurements (eval.json), one chart per group of log.csv columns, every picture with\n"
    "its caption and the settings (run.json).  It needs no server and fetches nothing: open\n"
    "it from file://.  While run.json says \"status\": \"running\" it reloads itself every\n"
    "S seconds (--refresh, default 10).\n"
    "\n"
    "--compare writes one page for several run folders: their curves overlaid per log\n"
    "column, their result figures in one table, the settings that differ highlighted, and\n"
    "their pictures of the same name side by side.  Links are relative to the page.\n"
    "\n"
    "Exit status: 0 written, 1 a file could not be read or written, 2 bad usage.\n";

static int usage_error(const char *msg, const char *arg) {
    fprintf(stderr, "report: %s%s%s\n(see report --help)\n", msg, arg ? ": " : "", arg ? arg : "");
    return 2;
}

int main(int argc, char **argv) {
    bool compare = false;
    const char *page = NULL, **dirs = calloc((size_t)argc, sizeof *dirs);
    int n = 0, refresh = 0;
    if (!dirs) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(USAGE, stdout);
            free(dirs);
            return 0;
        } else if (!strcmp(a, "--version")) {
            cli_version("report");
            free(dirs);
            return 0;
        } else if (!strcmp(a, "--compare")) {
            compare = true;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            if (++i == argc) return free(dirs), usage_error("-o needs a file name", NULL);
            page = argv[i];
        } else if (!strcmp(a, "--refresh")) {
            char *end;
            if (++i == argc) return free(dirs), usage_error("--refresh needs seconds", NULL);
            long s = strtol(argv[i], &end, 10);
            if (*end || s < 1 || s > 86400)
                return free(dirs), usage_error("--refresh takes 1 to 86400 seconds", argv[i]);
            refresh = (int)s;
        } else if (a[0] == '-' && a[1]) {
            return free(dirs), usage_error("unknown option", a);
        } else {
            dirs[n++] = a;
        }
    }
    nn_error err;
    int rc = 0;
    if (compare) {
        if (!page) rc = usage_error("--compare needs -o PAGE.html", NULL);
        else if (n < 1) rc = usage_error("--compare needs at least one run folder", NULL);
        else if (report_write_compare(page, dirs, n, &err)) rc = 1;
        else printf("%s\n", page);
    } else {
        if (page) rc = usage_error("-o goes with --compare (a run's page is OUT_DIR/index.html)", NULL);
        else if (n != 1) rc = usage_error("give one run folder", NULL);
        else if (report_write_page(dirs[0], &(report_opts){.refresh = refresh}, &err)) rc = 1;
        else printf("%s/index.html\n", dirs[0]);
    }
    if (rc == 1) fprintf(stderr, "report: %s\n", err.msg);
    free((void *)dirs);
    return rc;
}
