/* settings.c — see settings.h. */
#include "examples/common/settings.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends one "key=value\n" line; false when it does not fit. */
static bool put(char *buf, size_t n, size_t *len, const setting *s) {
    const void *v = s->value;
    size_t room = *len < n ? n - *len : 0;
    int k = 0;
    switch (s->kind) {
    case SET_INT: k = snprintf(buf + *len, room, "%s=%d\n", s->key, *(const int *)v); break;
    case SET_LONG: k = snprintf(buf + *len, room, "%s=%ld\n", s->key, *(const long *)v); break;
    case SET_U64:
        k = snprintf(buf + *len, room, "%s=%llu\n", s->key,
                     (unsigned long long)*(const uint64_t *)v);
        break;
    case SET_DOUBLE: k = snprintf(buf + *len, room, "%s=%.17g\n", s->key, *(const double *)v); break;
    case SET_STRING:
        k = snprintf(buf + *len, room, "%s=%s\n", s->key, *(const char *const *)v);
        break;
    case SET_BOOL: k = snprintf(buf + *len, room, "%s=%d\n", s->key, (int)*(const bool *)v); break;
    }
    if (k < 0 || (size_t)k >= room) return false;
    *len += (size_t)k;
    return true;
}

int settings_append(char *buf, size_t n, const setting *table) {
    size_t len = strlen(buf);
    for (const setting *s = table; s->key; s++)
        if (!put(buf, n, &len, s)) return -1;
    return 0;
}

int settings_write(char *buf, size_t n, const char *program, const setting *table) {
    int k = snprintf(buf, n, "program=%s\n", program);
    if (k < 0 || (size_t)k >= n) return -1;
    return settings_append(buf, n, table);
}

/* Sets the entry from the value text v (which stays: strings point into it). */
static void get(const setting *s, const char *v) {
    void *p = s->value;
    switch (s->kind) {
    case SET_INT: *(int *)p = atoi(v); break;
    case SET_LONG: *(long *)p = strtol(v, NULL, 10); break;
    case SET_U64: *(uint64_t *)p = (uint64_t)strtoull(v, NULL, 10); break;
    case SET_DOUBLE: *(double *)p = atof(v); break;
    case SET_STRING: *(const char **)p = v; break;
    case SET_BOOL: *(bool *)p = atoi(v) != 0; break;
    }
}

int settings_read(char *text, const char *program, const setting *table, const char *path) {
    size_t plen = strlen(program);
    if (strncmp(text, "program=", 8) || strncmp(text + 8, program, plen) || text[8 + plen] != '\n') {
        fprintf(stderr, "%s: %s: not a checkpoint of this program (its meta text does not "
                        "start with 'program=%s')\n", program, path, program);
        return -1;
    }
    for (char *line = text, *next; *line; line = next) {
        size_t len = strcspn(line, "\n");
        next = line + len + (line[len] == '\n');
        line[len] = 0;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        for (const setting *s = table; s->key; s++)
            if (!strcmp(s->key, line)) get(s, eq + 1);
    }
    return 0;
}

const char *settings_value(const char *text, const char *key) {
    size_t klen = strlen(key);
    for (const char *line = text;;) {
        if (!strncmp(line, key, klen) && line[klen] == '=') return line + klen + 1;
        line = strchr(line, '\n');
        if (!line) return NULL;
        line++;
    }
}
