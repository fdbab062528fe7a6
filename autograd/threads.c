/* threads.c — the thread count, and how idle OpenMP threads wait.
 *
 * Why the library chooses the wait policy.  GCC's libgomp, left to its default, lets a
 * thread that reaches a barrier or finishes a region spin for ~300 000 iterations before it
 * sleeps.  On a quiet machine that saves a futex wake per region.  On a machine where other
 * processes are busy it is a collapse: the thread we wait for has been preempted, and the
 * spinning one burns the time slice its partner needed.  Measured on 2 cores with one busy
 * process per core, a classic VAE epoch took 18 s at 1 thread and 279 s at 2 threads; with
 * OMP_WAIT_POLICY=passive, 2 threads took 4.7–12.8 s (the machine's other load varied).  A
 * short spin (GOMP_SPINCOUNT=10000) still took 27 s.  So henbun waits passively: a waiting
 * thread sleeps in the kernel at once, and the cost on a quiet machine is one futex wake per
 * parallel region, which the regions' size thresholds (parallel.h, gemm.c) keep small.
 *
 * Both runtimes read the policy from the environment, and only there, so the library puts
 * OMP_WAIT_POLICY=passive into the environment (never overriding the user: a set
 * OMP_WAIT_POLICY or GOMP_SPINCOUNT wins) before the runtime reads it:
 *   - LLVM's libomp reads its environment at the first OpenMP call, so the ordinary
 *     constructor below is early enough for it.
 *   - GCC's libgomp reads its environment in its own ELF constructor, which runs before any
 *     constructor of the program, and offers no call to change the policy afterwards.  The
 *     only code of ours that runs earlier is an executable's .preinit_array, and setenv there
 *     is undone: libc's initialiser, which runs after it, resets `environ` to the array the
 *     kernel passed.  So the preinit entry sets the variable and re-executes the program
 *     (/proc/self/exe, same argv, same pid, nothing done yet to lose): about a millisecond
 *     at start-up, once.  It is skipped under valgrind (which would stop following the
 *     program) and when the exec fails (the program then runs with libgomp's default).
 *     A shared object may not have a .preinit_array (the linker refuses it), so a -fPIC
 *     build has only the constructor: a program using the shared library with libgomp sets
 *     OMP_WAIT_POLICY=passive itself (the README says so).
 * The variable stays in the environment, so child processes inherit the choice. */
#include "autograd/autograd.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool user_chose(const char *var) { return strncmp(var, "OMP_WAIT_POLICY=", 16) == 0 || strncmp(var, "GOMP_SPINCOUNT=", 15) == 0; }

#if defined(__ELF__) && defined(__linux__) && (defined(__PIE__) || !defined(__PIC__))
/* Runs before libc is initialised: `environ` is not set yet (getenv sees nothing), so this
 * reads the kernel's envp and hands execve a copy with one more entry. */
static void set_wait_policy_preinit(int argc, char **argv, char **envp)
{
    (void)argc;
    if (!argv || !argv[0] || !envp) return;
    size_t n = 0;
    for (; envp[n]; n++) {
        if (user_chose(envp[n])) return;
        if (strncmp(envp[n], "LD_PRELOAD=", 11) == 0 && strstr(envp[n], "vgpreload")) return; /* valgrind */
    }
    static char policy[] = "OMP_WAIT_POLICY=passive";
    char **env = malloc((n + 2) * sizeof *env);
    if (!env) return;
    memcpy(env, envp, n * sizeof *env);
    env[n] = policy;
    env[n + 1] = NULL;
    execve("/proc/self/exe", argv, env);
    free(env);          /* still here: the exec failed; run on with the runtime's default */
}
__attribute__((section(".preinit_array"), used))
static void (*const ag_preinit_wait_policy)(int, char **, char **) = set_wait_policy_preinit;
#endif

__attribute__((constructor)) static void ag_init_wait_policy(void)
{
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) setenv("OMP_WAIT_POLICY", "passive", 0);
}

void ag_set_num_threads(int n) { omp_set_num_threads(n < 1 ? 1 : n); }

int ag_num_threads(void) { return omp_get_max_threads(); }
