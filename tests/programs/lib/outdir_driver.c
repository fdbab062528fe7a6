/* outdir_driver.c — examples/common/outdir.c behind a command line, for
 * tests/programs/outdir_lock.sh:
 *   outdir_driver lock DIR SECONDS   lock DIR, print "locked PID", hold it SECONDS, exit 0
 *                                    (exit 1 when another process holds it)
 *   outdir_driver clean DIR          lock DIR, remove stale *.tmp.PID, print the count
 *   outdir_driver check PATH ROOM    exit 2 when PATH + ROOM bytes of name exceed PATH_MAX */
#include "examples/common/outdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "lock")) {
        int fd = outdir_lock("driver", argv[2]);
        if (fd < 0) return 1;
        printf("locked %ld\n", (long)getpid());
        fflush(stdout);
        sleep((unsigned)atoi(argv[3]));
        outdir_unlock(fd);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "clean")) {
        int fd = outdir_lock("driver", argv[2]);
        if (fd < 0) return 1;
        int n = outdir_clean_stale("driver", argv[2]);
        printf("%d\n", n);
        outdir_unlock(fd);
        return n < 0;
    }
    if (argc == 4 && !strcmp(argv[1], "check")) {
        if (outdir_check_path("driver", "out", argv[2], (size_t)atoi(argv[3]))) return 2;
        char buf[64];
        if (outdir_join(buf, sizeof buf, argv[2], "log.csv") == 0) printf("%s\n", buf);
        else printf("join refused\n");
        return 0;
    }
    fprintf(stderr, "usage: outdir_driver lock DIR SECONDS | clean DIR | check PATH ROOM\n");
    return 2;
}
