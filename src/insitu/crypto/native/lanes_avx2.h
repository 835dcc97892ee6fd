/*
 * Four scalar multiplications at once with AVX2, for ristretto_native.c.
 *
 * The four points share one scalar, so the four lanes run the same sequence
 * of operations as ge25519_scalarmult (same table of 8 multiples, same signed
 * radix-16 digits, same formulas); only the field arithmetic changes: each
 * field element holds four lanes of ten unsigned limbs in radix 2^25.5
 * (26, 25, 26, ... bits), and a multiplication is 100 vpmuludq over the four
 * lanes instead of 25 64x64-bit multiplications per lane.
 *
 * Bounds, kept by carrying after every operation: limbs below 2^26 (even)
 * and 2^25 (odd), limb 1 below 2^25 + 2^15. Then 19*g < 2^30.3 fits the
 * 32-bit multiplier inputs, and a product's ten terms stay below 2^60.
 *
 * Compiled for AVX2 through function attributes, so the module still loads
 * on a processor without it; ristretto_native.c checks the CPU first.
 */
#include <immintrin.h>

#define LANES_AVX2 __attribute__((target("avx2")))

typedef struct {
    __m256i v[10];
} fe4;

typedef struct {
    fe4 X, Y, Z, T;
} p3x4; /* also holds completed (p1p1) points */

typedef struct {
    fe4 X, Y, Z;
} p2x4;

typedef struct {
    fe4 YplusX, YminusX, Z, T2d;
} cachedx4;

#define M26 0x3ffffffULL
#define M25 0x1ffffffULL

#define CARRY_STEP(h, i, bits, mask)                                  \
    do {                                                              \
        __m256i c_ = _mm256_srli_epi64((h)->v[i], bits);              \
        (h)->v[(i) + 1] = _mm256_add_epi64((h)->v[(i) + 1], c_);      \
        (h)->v[i] = _mm256_and_si256((h)->v[i], mask);                \
    } while (0)

LANES_AVX2 static inline __m256i
times19(__m256i x)
{
    return _mm256_add_epi64(_mm256_add_epi64(_mm256_slli_epi64(x, 4), _mm256_slli_epi64(x, 1)),
                            x);
}

/* Limbs below 2^63 in, bounded limbs (see above) out, same value mod p.
 * Two interleaved carry chains, in ref10's order, halve the dependency chain;
 * limbs 1 and 5 may end a little above 2^25 (by at most 2^15). */
LANES_AVX2 static inline void
fe4_carry(fe4 *h)
{
    const __m256i m26 = _mm256_set1_epi64x((long long) M26);
    const __m256i m25 = _mm256_set1_epi64x((long long) M25);
    __m256i       c;

    CARRY_STEP(h, 0, 26, m26);
    CARRY_STEP(h, 4, 26, m26);
    CARRY_STEP(h, 1, 25, m25);
    CARRY_STEP(h, 5, 25, m25);
    CARRY_STEP(h, 2, 26, m26);
    CARRY_STEP(h, 6, 26, m26);
    CARRY_STEP(h, 3, 25, m25);
    CARRY_STEP(h, 7, 25, m25);
    CARRY_STEP(h, 4, 26, m26);
    CARRY_STEP(h, 8, 26, m26);
    c = _mm256_srli_epi64(h->v[9], 25);
    h->v[9] = _mm256_and_si256(h->v[9], m25);
    h->v[0] = _mm256_add_epi64(h->v[0], times19(c));
    CARRY_STEP(h, 0, 26, m26);
}

/* h = f * g. Column by column: one accumulator at a time keeps the other
 * operands in memory, where vpmuludq reads them directly. */
LANES_AVX2 static void
fe4_mul(fe4 *h, const fe4 *f, const fe4 *g)
{
    __m256i g19[10], f2[10], t[10];
    int     i, k;

    for (i = 0; i < 10; i++) {
        g19[i] = times19(g->v[i]);
        f2[i] = (i & 1) ? _mm256_add_epi64(f->v[i], f->v[i]) : f->v[i];
    }
#pragma GCC unroll 10
    for (k = 0; k < 10; k++) {
        __m256i acc = _mm256_setzero_si256();

#pragma GCC unroll 10
        for (i = 0; i < 10; i++) {
            /* limb weights 2^ceil(25.5 i): two odd limbs meet one bit higher;
             * past limb 9 the weight 2^255 is 19 */
            const int     j = i <= k ? k - i : k - i + 10;
            const __m256i fi = (i & j & 1) ? f2[i] : f->v[i];
            const __m256i gj = i <= k ? g->v[j] : g19[j];

            acc = _mm256_add_epi64(acc, _mm256_mul_epu32(fi, gj));
        }
        t[k] = acc; /* h may be f or g: write it after the last column */
    }
    for (k = 0; k < 10; k++) {
        h->v[k] = t[k];
    }
    fe4_carry(h);
}

/* h = f^2: the products f_i f_j with i < j once, doubled. */
LANES_AVX2 static void
fe4_sq(fe4 *h, const fe4 *f)
{
    __m256i f19[10], f2[10], f4[10], t[10];
    int     i, k;

    for (i = 0; i < 10; i++) {
        f19[i] = times19(f->v[i]);
        f2[i] = _mm256_slli_epi64(f->v[i], 1);
        f4[i] = _mm256_slli_epi64(f->v[i], 2);
    }
#pragma GCC unroll 10
    for (k = 0; k < 10; k++) {
        __m256i acc = _mm256_setzero_si256();

#pragma GCC unroll 10
        for (i = 0; i < 10; i++) {
            const int j = i <= k ? k - i : k - i + 10;

            if (i <= j) {
                const int     factor = ((i != j) ? 2 : 1) * ((i & j & 1) ? 2 : 1);
                const __m256i fi = factor == 1 ? f->v[i] : factor == 2 ? f2[i] : f4[i];
                const __m256i fj = i <= k ? f->v[j] : f19[j];

                acc = _mm256_add_epi64(acc, _mm256_mul_epu32(fi, fj));
            }
        }
        t[k] = acc; /* h may be f or g: write it after the last column */
    }
    for (k = 0; k < 10; k++) {
        h->v[k] = t[k];
    }
    fe4_carry(h);
}

LANES_AVX2 static inline void
fe4_add(fe4 *h, const fe4 *f, const fe4 *g)
{
    int i;

    for (i = 0; i < 10; i++) {
        h->v[i] = _mm256_add_epi64(f->v[i], g->v[i]);
    }
    fe4_carry(h);
}

/* f + g without carrying: limbs below 2^27 + 2^16. Only for a result that
 * goes straight into fe4_mul or fe4_sq, or is the f of fe4_sub, where the
 * bounds above still hold (19 * 2^27.01 < 2^32; ten products < 2^63). */
LANES_AVX2 static inline void
fe4_add_lazy(fe4 *h, const fe4 *f, const fe4 *g)
{
    int i;

    for (i = 0; i < 10; i++) {
        h->v[i] = _mm256_add_epi64(f->v[i], g->v[i]);
    }
}

/* f - g as f + 2p - g: each limb of 2p is above the bound of g's limb. */
LANES_AVX2 static inline void
fe4_sub(fe4 *h, const fe4 *f, const fe4 *g)
{
    const __m256i p2_0 = _mm256_set1_epi64x((long long) (2 * (M26 - 18)));
    const __m256i p2_even = _mm256_set1_epi64x((long long) (2 * M26));
    const __m256i p2_odd = _mm256_set1_epi64x((long long) (2 * M25));
    int           i;

    for (i = 0; i < 10; i++) {
        const __m256i p2 = i == 0 ? p2_0 : (i & 1) ? p2_odd : p2_even;

        h->v[i] = _mm256_sub_epi64(_mm256_add_epi64(f->v[i], p2), g->v[i]);
    }
    fe4_carry(h);
}

LANES_AVX2 static inline void
fe4_set_small(fe4 *h, long long value)
{
    int i;

    h->v[0] = _mm256_set1_epi64x(value);
    for (i = 1; i < 10; i++) {
        h->v[i] = _mm256_setzero_si256();
    }
}

/* Lane l of h = f[l]; f in libsodium's radix 2^51, any loose bound. */
LANES_AVX2 static void
fe4_load(fe4 *h, const fe25519 f0, const fe25519 f1, const fe25519 f2, const fe25519 f3)
{
    const uint64_t *lanes[4];
    fe25519         r;
    int             l, k;
    uint64_t        limbs[10][4];

    lanes[0] = f0;
    lanes[1] = f1;
    lanes[2] = f2;
    lanes[3] = f3;
    for (l = 0; l < 4; l++) {
        fe25519_reduce(r, lanes[l]);
        for (k = 0; k < 5; k++) {
            limbs[2 * k][l] = r[k] & M26;
            limbs[2 * k + 1][l] = r[k] >> 26;
        }
    }
    for (k = 0; k < 10; k++) {
        h->v[k] = _mm256_loadu_si256((const __m256i *) (const void *) limbs[k]);
    }
}

/* f[l] = lane l of h, in radix 2^51 with limbs below 2^52. */
LANES_AVX2 static void
fe4_store(fe25519 f0, fe25519 f1, fe25519 f2, fe25519 f3, const fe4 *h)
{
    uint64_t *lanes[4];
    uint64_t  limbs[10][4];
    int       l, k;

    lanes[0] = f0;
    lanes[1] = f1;
    lanes[2] = f2;
    lanes[3] = f3;
    for (k = 0; k < 10; k++) {
        _mm256_storeu_si256((__m256i *) (void *) limbs[k], h->v[k]);
    }
    for (l = 0; l < 4; l++) {
        for (k = 0; k < 5; k++) {
            lanes[l][k] = limbs[2 * k][l] + (limbs[2 * k + 1][l] << 26);
        }
    }
}

LANES_AVX2 static void
p3x4_to_cached(cachedx4 *r, const p3x4 *p, const fe4 *d2x4)
{
    fe4_add_lazy(&r->YplusX, &p->Y, &p->X); /* only ever a factor */
    fe4_sub(&r->YminusX, &p->Y, &p->X);
    r->Z = p->Z;
    fe4_mul(&r->T2d, &p->T, d2x4);
}

/* r (completed) = p + q, as ge25519_add */
LANES_AVX2 static void
p3x4_add(p3x4 *r, const p3x4 *p, const cachedx4 *q)
{
    fe4 a, b, c, dd, t0;

    fe4_add_lazy(&a, &p->Y, &p->X);
    fe4_mul(&a, &a, &q->YplusX);
    fe4_sub(&b, &p->Y, &p->X);
    fe4_mul(&b, &b, &q->YminusX);
    fe4_mul(&c, &q->T2d, &p->T);
    fe4_mul(&dd, &p->Z, &q->Z);
    fe4_add_lazy(&t0, &dd, &dd);
    fe4_sub(&r->X, &a, &b);
    fe4_add(&r->Y, &a, &b);
    fe4_add(&r->Z, &t0, &c);
    fe4_sub(&r->T, &t0, &c);
}

LANES_AVX2 static void
p1p1x4_to_p2(p2x4 *r, const p3x4 *p)
{
    fe4_mul(&r->X, &p->X, &p->T);
    fe4_mul(&r->Y, &p->Y, &p->Z);
    fe4_mul(&r->Z, &p->Z, &p->T);
}

LANES_AVX2 static void
p1p1x4_to_p3(p3x4 *r, const p3x4 *p)
{
    p3x4 t;

    fe4_mul(&t.X, &p->X, &p->T);
    fe4_mul(&t.Y, &p->Y, &p->Z);
    fe4_mul(&t.Z, &p->Z, &p->T);
    fe4_mul(&t.T, &p->X, &p->Y);
    *r = t;
}

/* r (completed) = 2p, as ge25519_p2_dbl */
LANES_AVX2 static void
p2x4_dbl(p3x4 *r, const p2x4 *p)
{
    fe4 xx, yy, b, a, s;

    fe4_sq(&xx, &p->X);
    fe4_sq(&yy, &p->Y);
    fe4_sq(&b, &p->Z);
    fe4_add_lazy(&b, &b, &b);
    fe4_add_lazy(&s, &p->X, &p->Y);
    fe4_sq(&a, &s);
    fe4_add(&r->Y, &yy, &xx);
    fe4_sub(&r->Z, &yy, &xx);
    fe4_sub(&r->X, &a, &r->Y);
    fe4_sub(&r->T, &b, &r->Z);
}

LANES_AVX2 static void
p3x4_dbl(p3x4 *r, const p3x4 *p)
{
    p2x4 q;

    q.X = p->X;
    q.Y = p->Y;
    q.Z = p->Z;
    p2x4_dbl(r, &q);
}

LANES_AVX2 static inline void
fe4_cmov(fe4 *t, const fe4 *u, __m256i mask)
{
    int i;

    for (i = 0; i < 10; i++) {
        t->v[i] = _mm256_xor_si256(
            t->v[i], _mm256_and_si256(_mm256_xor_si256(t->v[i], u->v[i]), mask));
    }
}

LANES_AVX2 static void
cachedx4_cmov(cachedx4 *t, const cachedx4 *u, __m256i mask)
{
    fe4_cmov(&t->YplusX, &u->YplusX, mask);
    fe4_cmov(&t->YminusX, &u->YminusX, mask);
    fe4_cmov(&t->Z, &u->Z, mask);
    fe4_cmov(&t->T2d, &u->T2d, mask);
}

/* t = b * P from pi[j] = (j+1) P, constant time in b (as ge25519_cmov8_cached) */
LANES_AVX2 static void
cachedx4_select(cachedx4 *t, const cachedx4 pi[8], const signed char b)
{
    cachedx4            minust;
    fe4                 zero;
    const unsigned char bnegative = negative(b);
    const unsigned char babs = (unsigned char) (b - (((-bnegative) & b) * ((signed char) 1 << 1)));
    int                 i;

    fe4_set_small(&t->YplusX, 1);
    fe4_set_small(&t->YminusX, 1);
    fe4_set_small(&t->Z, 1);
    fe4_set_small(&t->T2d, 0);
    for (i = 0; i < 8; i++) {
        const __m256i mask =
            _mm256_set1_epi64x(-(long long) equal((signed char) babs, (signed char) (i + 1)));

        cachedx4_cmov(t, &pi[i], mask);
    }
    minust.YplusX = t->YminusX;
    minust.YminusX = t->YplusX;
    minust.Z = t->Z;
    fe4_set_small(&zero, 0);
    fe4_sub(&minust.T2d, &zero, &t->T2d);
    cachedx4_cmov(t, &minust, _mm256_set1_epi64x(-(long long) bnegative));
}

/* out[l] = a * in[l] for l < 4, where e holds the signed digits of a. */
LANES_AVX2 static void
scalarmult_x4(ge25519_p3 out[4], const signed char e[64], const ge25519_p3 in[4])
{
    p3x4     multiples[9];
    cachedx4 pi[8];
    cachedx4 t;
    p3x4     h, r;
    p2x4     s;
    fe4      d2x4;
    int      i, k;

    fe4_load(&multiples[1].X, in[0].X, in[1].X, in[2].X, in[3].X);
    fe4_load(&multiples[1].Y, in[0].Y, in[1].Y, in[2].Y, in[3].Y);
    fe4_load(&multiples[1].Z, in[0].Z, in[1].Z, in[2].Z, in[3].Z);
    fe4_load(&multiples[1].T, in[0].T, in[1].T, in[2].T, in[3].T);
    fe4_load(&d2x4, d2, d2, d2, d2);

    p3x4_to_cached(&pi[0], &multiples[1], &d2x4);
    for (k = 2; k <= 8; k++) {
        if (k % 2 == 0) {
            p3x4_dbl(&r, &multiples[k / 2]);
        } else {
            p3x4_add(&r, &multiples[1], &pi[k - 2]);
        }
        p1p1x4_to_p3(&multiples[k], &r);
        p3x4_to_cached(&pi[k - 1], &multiples[k], &d2x4);
    }

    fe4_set_small(&h.X, 0);
    fe4_set_small(&h.Y, 1);
    fe4_set_small(&h.Z, 1);
    fe4_set_small(&h.T, 0);
    for (i = 63; i != 0; i--) {
        cachedx4_select(&t, pi, e[i]);
        p3x4_add(&r, &h, &t);

        p1p1x4_to_p2(&s, &r);
        p2x4_dbl(&r, &s);
        p1p1x4_to_p2(&s, &r);
        p2x4_dbl(&r, &s);
        p1p1x4_to_p2(&s, &r);
        p2x4_dbl(&r, &s);
        p1p1x4_to_p2(&s, &r);
        p2x4_dbl(&r, &s);

        p1p1x4_to_p3(&h, &r);
    }
    cachedx4_select(&t, pi, e[0]);
    p3x4_add(&r, &h, &t);
    p1p1x4_to_p3(&h, &r);

    fe4_store(out[0].X, out[1].X, out[2].X, out[3].X, &h.X);
    fe4_store(out[0].Y, out[1].Y, out[2].Y, out[3].Y, &h.Y);
    fe4_store(out[0].Z, out[1].Z, out[2].Z, out[3].Z, &h.Z);
    fe4_store(out[0].T, out[1].T, out[2].T, out[3].T, &h.T);
}
