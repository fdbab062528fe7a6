/* settings.h — what a checkpoint remembers of a program's settings, as text: one table per
 * program names the settings, and the same table writes the checkpoint's meta text and
 * reads it back, so the two cannot disagree.
 *
 *   const setting remembered[] = {
 *       {"dataset", SET_STRING, &c.dataset},   // dataset=mnist
 *       {"latent", SET_INT, &c.latent},        // latent=20
 *       {"lr", SET_DOUBLE, &c.lr},             // lr=0.001 (%.17g: reads back bit for bit)
 *       {0}};
 *   settings_write(meta.text, sizeof meta.text, "vae", remembered);  // "program=vae\n..."
 *   settings_read(saved_text, "vae", remembered, path);               // fills c back in
 *
 * The text is "program=NAME\n" and then "key=value\n" per entry, in the table's order. */
#ifndef HENBUN_EXAMPLES_SETTINGS_H
#define HENBUN_EXAMPLES_SETTINGS_H

#include <stddef.h>

typedef enum {
    SET_INT,    /* int *          %d */
    SET_LONG,   /* long *         %ld */
    SET_U64,    /* uint64_t *     %llu */
    SET_DOUBLE, /* double *       %.17g */
    SET_STRING, /* const char **  as it is (one line: no '\n') */
    SET_BOOL,   /* bool *         0 or 1 */
} setting_kind;

typedef struct setting {
    const char *key; /* the line's key; NULL ends the table */
    setting_kind kind;
    void *value;     /* what is written, and where a read puts what it finds */
} setting;

/* Writes "program=NAME\n" and the table's lines into buf (n bytes).  Returns 0, or -1 when
 * they do not fit (buf then holds a cut text). */
int settings_write(char *buf, size_t n, const char *program, const setting *table);
/* Appends the table's lines (no program line) to the text in buf.  0, or -1 as above. */
int settings_append(char *buf, size_t n, const setting *table);
/* Reads a text that settings_write made: checks that it starts with "program=NAME\n"
 * (else prints "NAME: PATH: not a checkpoint of this program (...)" and returns -1), then
 * sets every table entry whose key has a line.  Keys of no entry are passed over, entries
 * without a line keep their value.  The text is cut into lines in place and strings point
 * into it, so it must outlive what the table points to. */
int settings_read(char *text, const char *program, const setting *table, const char *path);
/* The value of the line "key=..." of text (at the start of a line), up to the end of the
 * text, or NULL when there is no such line. */
const char *settings_value(const char *text, const char *key);

#endif
