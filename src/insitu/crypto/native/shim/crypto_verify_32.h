/* Stand-in for libsodium's public header: the vendored ref10 code only needs the
 * declaration, and nothing in the kernels calls it. */
#ifndef INSITU_CRYPTO_VERIFY_32_H
#define INSITU_CRYPTO_VERIFY_32_H
int crypto_verify_32(const unsigned char *x, const unsigned char *y);
#endif
