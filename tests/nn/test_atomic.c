/* test_atomic.c — nn_atomic_begin/end, the one all-or-nothing write behind checkpoints,
 * .safetensors files, pictures and run pages: a finished write replaces the file whole, a
 * failed one leaves the old file and no temporary file, and a FIFO squatting on the
 * temporary name is refused at once instead of hanging the open. */
#include "tests/test.h"
#include "nn/error.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *slurp(const char *path) {
    static char buf[256];
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static bool temp_left(const char *path) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    return access(tmp, F_OK) == 0;
}

static void write_text(const char *path, const char *text, const char *why, int want) {
    nn_atomic_file a;
    nn_error err;
    CHECK(nn_atomic_begin(&a, path, &err) == 0);
    if (!a.f) return;
    fputs(text, a.f);
    CHECK(nn_atomic_end(&a, why, &err) == want);
    if (want) {
        CHECK(strstr(err.msg, path) != NULL);
        CHECK(strstr(err.msg, why) != NULL);
        CHECK(strstr(err.msg, "unchanged") != NULL);
    }
}

TEST(atomic_write_replaces_the_file_whole_and_leaves_no_temporary) {
    const char *p = test_tmp_path("atomic.txt");
    write_text(p, "first\n", NULL, 0);
    char *got = slurp(p);
    CHECK(got && strcmp(got, "first\n") == 0);
    write_text(p, "second\n", NULL, 0);
    got = slurp(p);
    CHECK(got && strcmp(got, "second\n") == 0);
    CHECK(!temp_left(p));
}

TEST(atomic_write_that_failed_keeps_the_old_file) {
    const char *p = test_tmp_path("atomic-keep.txt");
    write_text(p, "old\n", NULL, 0);
    write_text(p, "half a new fi", "the disk is full (simulated)", -1);
    char *got = slurp(p);
    CHECK(got && strcmp(got, "old\n") == 0);
    CHECK(!temp_left(p));
}

TEST(atomic_write_over_a_directory_fails_and_cleans_up) {
    const char *p = test_tmp_path("atomic-dir");
    CHECK(mkdir(p, 0755) == 0);
    nn_atomic_file a;
    nn_error err;
    CHECK(nn_atomic_begin(&a, p, &err) == 0);
    if (!a.f) return;
    fputs("x", a.f);
    CHECK(nn_atomic_end(&a, NULL, &err) == -1); /* rename over a directory */
    CHECK(strstr(err.msg, "atomic-dir") != NULL);
    CHECK(!temp_left(p));
    struct stat st;
    CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
}

TEST(atomic_write_refuses_a_fifo_on_the_temporary_name) {
    const char *p = test_tmp_path("atomic-fifo.txt");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
    CHECK(mkfifo(tmp, 0644) == 0);
    nn_atomic_file a;
    nn_error err;
    CHECK(nn_atomic_begin(&a, p, &err) == -1); /* would hang in open() without O_NONBLOCK */
    CHECK(a.f == NULL);
    CHECK(strstr(err.msg, "not a regular file") != NULL);
    CHECK(access(p, F_OK) != 0);
    unlink(tmp);
}

TEST(atomic_write_into_a_missing_folder_names_the_file) {
    const char *p = test_tmp_path("no-such-folder/x.txt");
    nn_atomic_file a;
    nn_error err;
    CHECK(nn_atomic_begin(&a, p, &err) == -1);
    CHECK(strstr(err.msg, "no-such-folder/x.txt") != NULL);
    CHECK(strstr(err.msg, "No such file") != NULL);
}
