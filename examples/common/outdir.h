/* outdir.h — what a program does to its --out folder before writing anything there, so
 * that two runs cannot write into one folder, a killed run's leftovers do not pile up, and
 * a path is never cut short:
 *
 *   if (outdir_check_path(PROG, "out", c.out, 64)) return 2;        // with the flags
 *   if (run_mkdir(c.out, &err)) { ...; return 1; }                   // after all validation
 *   int lock = outdir_lock(PROG, c.out);
 *   if (lock < 0) return 1;                                          // another run has it
 *   outdir_clean_stale(PROG, c.out);                                 // *.tmp.PID of dead runs
 *   ... the run; the lock goes away with the process (even after kill -9) ...
 *   outdir_unlock(lock);                                             // optional, at the end
 */
#ifndef HENBUN_EXAMPLES_OUTDIR_H
#define HENBUN_EXAMPLES_OUTDIR_H

#include <stddef.h>

/* The lock file's name inside the folder. */
#define OUTDIR_LOCK_NAME ".henbun.lock"

/* 0 when "<path>/<a name of up to `room` bytes>" fits in PATH_MAX; else prints
 * "<prog>: --<flag>: the path is N bytes long; at most M fit (PATH_MAX is P)" and returns
 * -1 (a usage error: exit 2).  Nothing is ever truncated. */
int outdir_check_path(const char *prog, const char *flag, const char *path, size_t room);

/* "<dir>/<name>" into buf (n bytes): 0, or -1 (buf empty) when it would not fit. */
int outdir_join(char *buf, size_t n, const char *dir, const char *name);

/* Takes an exclusive lock (flock, non-blocking) on <dir>/.henbun.lock, which the folder
 * must already hold or be able to hold, and writes our PID into it.  Returns the lock's
 * file descriptor (keep it open for the whole run: the lock lasts as long as it, and the
 * kernel drops it when the process dies, however it dies), or -1 after printing
 *   "<prog>: <dir> is in use by another run (PID 1234); wait for it to finish or choose
 *    another --out"
 * (or why the lock file cannot be made).  Exit 1 then: the world, not the flags, is wrong. */
int outdir_lock(const char *prog, const char *dir);
/* Releases the lock and closes fd (fd < 0: nothing).  The lock file itself stays: removing
 * it would let a third run lock a new file while a second still waits on the old one. */
void outdir_unlock(int fd);

/* Removes the files "<anything>.tmp.<PID>" directly in dir whose process is dead: the
 * temporary files of atomic writes (checkpoint, log, pictures) that a run killed with
 * SIGKILL left behind.  Files of live processes, ours included, are kept.  Call it while
 * holding the lock.  Prints one line naming how many it removed (none: silent) and returns
 * the count, or -1 when dir cannot be read. */
int outdir_clean_stale(const char *prog, const char *dir);

#endif
