/* outdir.c — see outdir.h.  The lock is flock(2) on a file in the folder: it belongs to
 * the open file description, so the kernel releases it when the process exits or is
 * killed, and no stale lock can outlive its run.  The PID inside the file only serves the
 * message of the run that is refused. */
#include "examples/common/outdir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

int outdir_check_path(const char *prog, const char *flag, const char *path, size_t room) {
    size_t len = strlen(path);
    /* path + '/' + name + NUL must fit in PATH_MAX */
    if (len + 1 + room + 1 <= PATH_MAX) return 0;
    size_t most = PATH_MAX > room + 2 ? PATH_MAX - room - 2 : 0;
    fprintf(stderr, "%s: --%s: the path is %zu bytes long; at most %zu fit (PATH_MAX is %d, "
            "less room for the file names written inside)\n", prog, flag, len, most, PATH_MAX);
    return -1;
}

int outdir_join(char *buf, size_t n, const char *dir, const char *name) {
    int k = snprintf(buf, n, "%s/%s", dir, name);
    if (k < 0 || (size_t)k >= n) {
        if (n) buf[0] = 0;
        return -1;
    }
    return 0;
}

int outdir_lock(const char *prog, const char *dir) {
    char path[PATH_MAX];
    if (outdir_join(path, sizeof path, dir, OUTDIR_LOCK_NAME)) {
        fprintf(stderr, "%s: %s: the path is too long for its lock file\n", prog, dir);
        return -1;
    }
    /* O_NONBLOCK: if someone put a FIFO there, open must not wait for a writer */
    int fd = open(path, O_RDWR | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0666);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "%s: cannot make the lock file %s: %s\n", prog, path,
                fd < 0 ? strerror(errno) : "it exists and is not a regular file");
        if (fd >= 0) close(fd);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char buf[32] = {0};
        ssize_t r = e == EWOULDBLOCK ? pread(fd, buf, sizeof buf - 1, 0) : -1;
        long pid = r > 0 ? strtol(buf, NULL, 10) : 0;
        if (e != EWOULDBLOCK)
            fprintf(stderr, "%s: cannot lock %s: %s\n", prog, path, strerror(e));
        else if (pid > 0)
            fprintf(stderr, "%s: %s is in use by another run (PID %ld); wait for it to finish "
                    "or choose another --out\n", prog, dir, pid);
        else
            fprintf(stderr, "%s: %s is in use by another run (its PID is not written yet); "
                    "wait for it to finish or choose another --out\n", prog, dir);
        close(fd);
        return -1;
    }
    char line[32];
    int k = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)k, 0) != k) {
        fprintf(stderr, "%s: cannot write the lock file %s: %s\n", prog, path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

void outdir_unlock(int fd) {
    if (fd < 0) return;
    flock(fd, LOCK_UN);
    close(fd);
}

/* The PID of a name "<base>.tmp.<digits>", or 0 when the name is not of that form. */
static long tmp_pid(const char *name) {
    const char *t = strstr(name, ".tmp.");
    if (!t) return 0;
    for (const char *next; (next = strstr(t + 1, ".tmp."));) t = next; /* the last one */
    const char *d = t + 5;
    if (!*d || t == name) return 0;
    for (const char *p = d; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    if (strlen(d) > 9) return 0;
    return strtol(d, NULL, 10);
}

int outdir_clean_stale(const char *prog, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, dir, strerror(errno));
        return -1;
    }
    int removed = 0;
    for (struct dirent *e; (e = readdir(d));) {
        long pid = tmp_pid(e->d_name);
        if (pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive (or not ours) */
        char path[PATH_MAX];
        if (outdir_join(path, sizeof path, dir, e->d_name)) continue;
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (unlink(path) == 0) removed++;
    }
    closedir(d);
    if (removed)
        fprintf(stderr, "%s: removed %d temporary file%s left in %s by runs that were killed\n",
                prog, removed, removed == 1 ? "" : "s", dir);
    return removed;
}
