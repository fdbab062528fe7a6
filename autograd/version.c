/* version.c — henbun_version() and the precision tag that autograd.h makes every user file
 * refer to: this object defines the tag of the precision it is compiled for, so a program
 * built with the other precision's headers fails to link (see autograd.h). */
#include "autograd/autograd.h"

const char HENBUN_ABI_TAG[] = AG_REAL_NAME;

const char *henbun_version(void) { return HENBUN_VERSION_STRING; }
