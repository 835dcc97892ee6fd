/* Stand-in for libsodium's utils.h: the vendored ref10 code calls only
 * sodium_is_zero, which ristretto_native.c defines (constant time). */
#ifndef INSITU_SODIUM_UTILS_H
#define INSITU_SODIUM_UTILS_H
#include <stddef.h>
int sodium_is_zero(const unsigned char *n, const size_t nlen);
#endif
