/*
 * Batch kernels for ECDH-PSI over ristretto255 (RFC 9496), on libsodium's
 * constant-time ref10 arithmetic (vendored in ./libsodium, ISC licence).
 *
 * Both kernels multiply a batch of group elements by one secret scalar k and
 * return the canonical encodings of the products, byte-for-byte what
 * crypto_scalarmult_ristretto255 returns element by element. They are cheaper
 * per element for three reasons:
 *
 *  - hash_mult keeps the RFC 9496 one-way map's output as a curve point and
 *    multiplies it directly, where libsodium's API encodes it (an inverse
 *    square root) and decodes it again (another) before multiplying;
 *  - every product is computed as 2 * ((k/2) * P): the caller passes the
 *    scalar k/2 mod L, and the final doubling is fused with the encoding
 *    ("batched double-and-encode", ristretto.group, Encoding section), which
 *    needs only one field inversion per block of points (Montgomery's trick)
 *    instead of one inverse square root per point;
 *  - all points of a batch share the scalar, so on a CPU with AVX2 four of
 *    them go through the same multiplication together, one per vector lane
 *    (lanes_avx2.h); otherwise scalarmult below runs one point at a time.
 *
 * The results are checked against libsodium in tests/crypto_ristretto, with
 * and without the lanes. Everything that depends on the scalar runs in
 * constant time (fixed sequence of group operations, table lookups by masks);
 * whether a batch holds an invalid encoding is public.
 *
 * The GIL is released while a batch runs, so threads of one process can share
 * cores; the engine's process pool is what the PSI uses.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if !defined(__SIZEOF_INT128__) || !defined(__BYTE_ORDER__) || \
    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the native ristretto255 kernels need a little-endian compiler with 128-bit integers"
#endif

#define CONFIGURED 1
#define HAVE_TI_MODE 1
#define NATIVE_LITTLE_ENDIAN 1

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include "ed25519_ref10.c"
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_LANES 1
#include "lanes_avx2.h"
#else
#define HAVE_LANES 0
#endif

/* Whether the kernels multiply four points at a time (AVX2, checked at import). */
static int use_lanes = 0;

#define ELEMENT_BYTES 32
#define UNIFORM_BYTES 64
#define SCALAR_BYTES 32
/* Points encoded per field inversion; the inversion costs about as much as
 * 250 multiplications, so its share per point stays well under one. */
#define BLOCK 512

int
sodium_is_zero(const unsigned char *n, const size_t nlen)
{
    size_t i;
    volatile unsigned char d = 0U;

    for (i = 0U; i < nlen; i++) {
        d |= n[i];
    }
    return 1 & ((d - 1) >> 8);
}

/* Intermediate values of doubling P = (X:Y:Z:T), from which the encoding of
 * 2P follows once 1/(e*f*g*h) is known. */
typedef struct {
    fe25519 e;   /* 2XY */
    fe25519 f;   /* Z^2 + dT^2 */
    fe25519 g;   /* Y^2 - aX^2 = Y^2 + X^2 */
    fe25519 h;   /* Z^2 - dT^2 */
    fe25519 eg;
    fe25519 fh;
    fe25519 inv; /* e*f*g*h, then its inverse */
} doubling;

static void
doubling_start(doubling *st, const ge25519_p3 *p)
{
    fe25519 xx, yy, zz, dtt, y2;

    fe25519_sq(xx, p->X);
    fe25519_sq(yy, p->Y);
    fe25519_sq(zz, p->Z);
    fe25519_sq(dtt, p->T);
    fe25519_mul(dtt, dtt, d);
    fe25519_add(y2, p->Y, p->Y);
    fe25519_mul(st->e, p->X, y2);
    fe25519_add(st->f, zz, dtt);
    fe25519_add(st->g, yy, xx);
    fe25519_sub(st->h, zz, dtt);
    fe25519_mul(st->eg, st->e, st->g);
    fe25519_mul(st->fh, st->f, st->h);
    fe25519_mul(st->inv, st->eg, st->fh);
}

/* Encoding of 2P from its doubling values, st->inv holding 1/(e*f*g*h). */
static void
doubling_encode(unsigned char s[ELEMENT_BYTES], const doubling *st)
{
    fe25519 z_inv, t_inv, magic, e, g, h, minus_e, f_sqrt_a, t, s_;
    unsigned int rotate, flip;

    fe25519_mul(z_inv, st->eg, st->inv); /* 1/(fh), the inverse of 2P's Z */
    fe25519_mul(t_inv, st->fh, st->inv); /* 1/(eg), the inverse of 2P's T */

    fe25519_mul(t, st->eg, z_inv);
    rotate = (unsigned int) fe25519_isnegative(t);

    fe25519_copy(e, st->e);
    fe25519_copy(g, st->g);
    fe25519_copy(h, st->h);
    fe25519_copy(magic, invsqrtamd);
    fe25519_neg(minus_e, st->e);
    fe25519_mul(f_sqrt_a, st->f, sqrtm1);
    fe25519_cmov(e, st->g, rotate);
    fe25519_cmov(g, minus_e, rotate);
    fe25519_cmov(h, f_sqrt_a, rotate);
    fe25519_cmov(magic, sqrtm1, rotate);

    fe25519_mul(t, h, e);
    fe25519_mul(t, t, z_inv);
    flip = (unsigned int) fe25519_isnegative(t);
    fe25519_cneg(g, g, flip);

    fe25519_mul(t, g, t_inv);
    fe25519_mul(t, magic, t);
    fe25519_sub(s_, h, g);
    fe25519_mul(s_, s_, t);
    fe25519_abs(s_, s_);
    fe25519_tobytes(s, s_);
}

/* Encodings of 2*points[i] for i < n into out (32 bytes each). Returns -1,
 * writing nothing, if some 2*points[i] is the identity. */
static int
double_and_encode(unsigned char *out, const ge25519_p3 *points, size_t n,
                  doubling *st, fe25519 *prefix)
{
    fe25519 inv, t;
    size_t   i;

    if (n == 0U) {
        return 0;
    }
    for (i = 0U; i < n; i++) {
        doubling_start(&st[i], &points[i]);
        if (i == 0U) {
            fe25519_copy(prefix[0], st[0].inv);
        } else {
            fe25519_mul(prefix[i], prefix[i - 1U], st[i].inv);
        }
    }
    if (fe25519_iszero(prefix[n - 1U])) {
        return -1;
    }
    fe25519_invert(inv, prefix[n - 1U]);
    for (i = n - 1U; i > 0U; i--) {
        fe25519_mul(t, inv, prefix[i - 1U]);
        fe25519_mul(inv, inv, st[i].inv);
        fe25519_copy(st[i].inv, t);
    }
    fe25519_copy(st[0].inv, inv);
    for (i = 0U; i < n; i++) {
        doubling_encode(out + ELEMENT_BYTES * i, &st[i]);
    }
    return 0;
}

/* Signed radix-16 digits of a (a[31] <= 127), each in [-8, 8]: the recoding
 * libsodium's ge25519_scalarmult does per call, done once per batch here. */
static void
scalar_digits(signed char e[64], const unsigned char a[SCALAR_BYTES])
{
    signed char carry = 0;
    int         i;

    for (i = 0; i < 32; ++i) {
        e[2 * i + 0] = (signed char) ((a[i] >> 0) & 15);
        e[2 * i + 1] = (signed char) ((a[i] >> 4) & 15);
    }
    for (i = 0; i < 63; ++i) {
        e[i] = (signed char) (e[i] + carry);
        carry = (signed char) ((e[i] + 8) >> 4);
        e[i] = (signed char) (e[i] - carry * 16);
    }
    e[63] = (signed char) (e[63] + carry);
}

#define CACHED_WORDS (sizeof(ge25519_cached) / sizeof(uint64_t))
typedef char cached_is_whole_words[(sizeof(ge25519_cached) % sizeof(uint64_t)) == 0 ? 1 : -1];

/* t = b * P from the table pi[j] = (j+1) * P, in constant time: the same
 * selection as libsodium's ge25519_cmov8_cached, over whole 64-bit words so
 * that the compiler can vectorise it. */
static void
cached_select(ge25519_cached *t, const ge25519_cached pi[8], const signed char b)
{
    ge25519_cached      minust;
    const unsigned char bnegative = negative(b);
    const unsigned char babs = (unsigned char) (b - (((-bnegative) & b) * ((signed char) 1 << 1)));
    uint64_t           *out = (uint64_t *) (void *) t;
    const uint64_t     *neg = (const uint64_t *) (const void *) &minust;
    uint64_t            mask;
    unsigned int        i, j;

    ge25519_cached_0(t);
    for (i = 0; i < 8; i++) {
        const uint64_t *in = (const uint64_t *) (const void *) &pi[i];

        mask = (uint64_t) 0 - (uint64_t) equal((signed char) babs, (signed char) (i + 1));
        for (j = 0; j < CACHED_WORDS; j++) {
            out[j] ^= (out[j] ^ in[j]) & mask;
        }
    }
    fe25519_copy(minust.YplusX, t->YminusX);
    fe25519_copy(minust.YminusX, t->YplusX);
    fe25519_copy(minust.Z, t->Z);
    fe25519_neg(minust.T2d, t->T2d);
    mask = (uint64_t) 0 - (uint64_t) bnegative;
    for (j = 0; j < CACHED_WORDS; j++) {
        out[j] ^= (out[j] ^ neg[j]) & mask;
    }
}

/* h = a * p for the digits e of a: libsodium's ge25519_scalarmult (same
 * table, same formulas, same order of operations) with cached_select. */
static void
scalarmult(ge25519_p3 *h, const signed char e[64], const ge25519_p3 *p)
{
    ge25519_cached pi[8];
    ge25519_cached t;
    ge25519_p1p1   r;
    ge25519_p2     s;
    ge25519_p3     multiples[9];
    int            i, k;

    /* multiples[k] = k P; even ones by doubling, odd ones as P + (k-1) P */
    multiples[1] = *p;
    ge25519_p3_to_cached(&pi[0], p);
    for (k = 2; k <= 8; k++) {
        if (k % 2 == 0) {
            ge25519_p3_dbl(&r, &multiples[k / 2]);
        } else {
            ge25519_add(&r, p, &pi[k - 2]);
        }
        ge25519_p1p1_to_p3(&multiples[k], &r);
        ge25519_p3_to_cached(&pi[k - 1], &multiples[k]);
    }

    ge25519_p3_0(h);
    for (i = 63; i != 0; i--) {
        cached_select(&t, pi, e[i]);
        ge25519_add(&r, h, &t);

        ge25519_p1p1_to_p2(&s, &r);
        ge25519_p2_dbl(&r, &s);
        ge25519_p1p1_to_p2(&s, &r);
        ge25519_p2_dbl(&r, &s);
        ge25519_p1p1_to_p2(&s, &r);
        ge25519_p2_dbl(&r, &s);
        ge25519_p1p1_to_p2(&s, &r);
        ge25519_p2_dbl(&r, &s);

        ge25519_p1p1_to_p3(h, &r);
    }
    cached_select(&t, pi, e[0]);
    ge25519_add(&r, h, &t);
    ge25519_p1p1_to_p3(h, &r);
}

/* RFC 9496 one-way map of 64 uniform bytes, left as a point. */
static void
from_uniform(ge25519_p3 *p, const unsigned char h[UNIFORM_BYTES])
{
    fe25519        r0, r1;
    ge25519_cached p1_cached;
    ge25519_p1p1   sum;
    ge25519_p3     p0, p1;

    fe25519_frombytes(r0, h);
    fe25519_frombytes(r1, h + 32);
    ristretto255_elligator(&p0, r0);
    ristretto255_elligator(&p1, r1);
    ge25519_p3_to_cached(&p1_cached, &p1);
    ge25519_add(&sum, &p0, &p1_cached);
    ge25519_p1p1_to_p3(p, &sum);
}

typedef struct {
    ge25519_p3 *inputs;
    ge25519_p3 *points;
    doubling   *states;
    fe25519    *prefix;
} workspace;

static int
workspace_open(workspace *ws)
{
    ws->inputs = PyMem_RawMalloc(sizeof(ge25519_p3) * BLOCK);
    ws->points = PyMem_RawMalloc(sizeof(ge25519_p3) * BLOCK);
    ws->states = PyMem_RawMalloc(sizeof(doubling) * BLOCK);
    ws->prefix = PyMem_RawMalloc(sizeof(fe25519) * BLOCK);
    if (ws->inputs == NULL || ws->points == NULL || ws->states == NULL || ws->prefix == NULL) {
        PyMem_RawFree(ws->inputs);
        PyMem_RawFree(ws->points);
        PyMem_RawFree(ws->states);
        PyMem_RawFree(ws->prefix);
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
workspace_close(workspace *ws)
{
    PyMem_RawFree(ws->inputs);
    PyMem_RawFree(ws->points);
    PyMem_RawFree(ws->states);
    PyMem_RawFree(ws->prefix);
}

/* points[i] = a * inputs[i] for i < count, four at a time where the CPU allows. */
static void
multiply_block(ge25519_p3 *points, const ge25519_p3 *inputs, size_t count,
               const signed char digits[64])
{
    size_t i = 0U;

#if HAVE_LANES
    if (use_lanes) {
        for (; i + 4U <= count; i += 4U) {
            scalarmult_x4(&points[i], digits, &inputs[i]);
        }
    }
#endif
    for (; i < count; i++) {
        scalarmult(&points[i], digits, &inputs[i]);
    }
}

/* Outcomes of a batch, reported after the GIL is taken back. */
enum { BATCH_OK = 0, BATCH_INVALID = 1, BATCH_IDENTITY = 2 };

static int
check_scalar(const Py_buffer *scalar)
{
    if (scalar->len != SCALAR_BYTES) {
        PyErr_SetString(PyExc_ValueError, "scalar must be 32 bytes");
        return -1;
    }
    if (((const unsigned char *) scalar->buf)[31] > 127) {
        PyErr_SetString(PyExc_ValueError, "scalar must be below 2^255");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(hash_mult_doc,
"hash_mult(uniform, half_scalar) -> bytes\n\n"
"For each 64-byte block of ``uniform``: the encoding of k * map(block), where\n"
"map is RFC 9496's one-way map and ``half_scalar`` is k/2 mod L. Raises\n"
"ValueError if a product is the identity.");

static PyObject *
hash_mult(PyObject *self, PyObject *args)
{
    Py_buffer      uniform, scalar;
    PyObject      *result = NULL;
    workspace      ws;
    unsigned char *out;
    const unsigned char *in;
    Py_ssize_t     n, start, i, count;
    signed char    digits[64];
    int            status = BATCH_OK;

    (void) self;
    if (!PyArg_ParseTuple(args, "y*y*", &uniform, &scalar)) {
        return NULL;
    }
    if (check_scalar(&scalar) != 0) {
        goto done;
    }
    if (uniform.len % UNIFORM_BYTES != 0) {
        PyErr_SetString(PyExc_ValueError, "uniform input must be a multiple of 64 bytes");
        goto done;
    }
    n = uniform.len / UNIFORM_BYTES;
    result = PyBytes_FromStringAndSize(NULL, n * ELEMENT_BYTES);
    if (result == NULL || workspace_open(&ws) != 0) {
        Py_CLEAR(result);
        goto done;
    }
    out = (unsigned char *) PyBytes_AS_STRING(result);
    in = (const unsigned char *) uniform.buf;
    scalar_digits(digits, (const unsigned char *) scalar.buf);
    Py_BEGIN_ALLOW_THREADS
    for (start = 0; start < n && status == BATCH_OK; start += BLOCK) {
        count = n - start < BLOCK ? n - start : BLOCK;
        for (i = 0; i < count; i++) {
            from_uniform(&ws.inputs[i], in + UNIFORM_BYTES * (start + i));
        }
        multiply_block(ws.points, ws.inputs, (size_t) count, digits);
        if (double_and_encode(out + ELEMENT_BYTES * start, ws.points, (size_t) count,
                              ws.states, ws.prefix) != 0) {
            status = BATCH_IDENTITY;
        }
    }
    Py_END_ALLOW_THREADS
    workspace_close(&ws);
    if (status != BATCH_OK) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_ValueError, "a product is the identity");
    }
done:
    PyBuffer_Release(&uniform);
    PyBuffer_Release(&scalar);
    return result;
}

PyDoc_STRVAR(mult_doc,
"mult(elements, half_scalar) -> bytes\n\n"
"For each 32-byte encoding P in ``elements``: the encoding of k * P, where\n"
"``half_scalar`` is k/2 mod L. Raises ValueError naming the first element that\n"
"is not a canonical encoding of a group element other than the identity.");

static PyObject *
mult(PyObject *self, PyObject *args)
{
    Py_buffer      elements, scalar;
    PyObject      *result = NULL;
    workspace      ws;
    unsigned char *out;
    const unsigned char *in;
    Py_ssize_t     n, start, i, count, bad = -1;
    signed char    digits[64];
    int            status = BATCH_OK;

    (void) self;
    if (!PyArg_ParseTuple(args, "y*y*", &elements, &scalar)) {
        return NULL;
    }
    if (check_scalar(&scalar) != 0) {
        goto done;
    }
    if (elements.len % ELEMENT_BYTES != 0) {
        PyErr_SetString(PyExc_ValueError, "elements must be a multiple of 32 bytes");
        goto done;
    }
    n = elements.len / ELEMENT_BYTES;
    result = PyBytes_FromStringAndSize(NULL, n * ELEMENT_BYTES);
    if (result == NULL || workspace_open(&ws) != 0) {
        Py_CLEAR(result);
        goto done;
    }
    out = (unsigned char *) PyBytes_AS_STRING(result);
    in = (const unsigned char *) elements.buf;
    scalar_digits(digits, (const unsigned char *) scalar.buf);
    Py_BEGIN_ALLOW_THREADS
    for (start = 0; start < n && status == BATCH_OK; start += BLOCK) {
        count = n - start < BLOCK ? n - start : BLOCK;
        for (i = 0; i < count; i++) {
            const unsigned char *s = in + ELEMENT_BYTES * (start + i);

            if (sodium_is_zero(s, ELEMENT_BYTES) ||
                ristretto255_frombytes(&ws.inputs[i], s) != 0) {
                status = BATCH_INVALID;
                bad = start + i;
                break;
            }
        }
        if (status == BATCH_OK) {
            multiply_block(ws.points, ws.inputs, (size_t) count, digits);
        }
        if (status == BATCH_OK &&
            double_and_encode(out + ELEMENT_BYTES * start, ws.points, (size_t) count,
                              ws.states, ws.prefix) != 0) {
            status = BATCH_IDENTITY;
        }
    }
    Py_END_ALLOW_THREADS
    workspace_close(&ws);
    if (status == BATCH_INVALID) {
        Py_CLEAR(result);
        PyErr_Format(PyExc_ValueError, "element %zd is not a valid ristretto255 element", bad);
    } else if (status != BATCH_OK) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_ValueError, "a product is the identity");
    }
done:
    PyBuffer_Release(&elements);
    PyBuffer_Release(&scalar);
    return result;
}

PyDoc_STRVAR(set_lanes_doc,
"set_lanes(on) -> bool\n\n"
"Multiply four points at a time with AVX2 (the default where the CPU has it) or\n"
"one at a time; returns whether lanes are used now. Both give the same bytes.");

static PyObject *
set_lanes(PyObject *self, PyObject *arg)
{
    int on = PyObject_IsTrue(arg);

    (void) self;
    if (on < 0) {
        return NULL;
    }
#if HAVE_LANES
    __builtin_cpu_init();
    use_lanes = on && __builtin_cpu_supports("avx2");
#else
    use_lanes = 0;
#endif
    return PyBool_FromLong(use_lanes);
}

static PyMethodDef methods[] = {
    {"set_lanes", set_lanes, METH_O, set_lanes_doc},
    {"hash_mult", hash_mult, METH_VARARGS, hash_mult_doc},
    {"mult", mult, METH_VARARGS, mult_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "insitu.crypto._ristretto_native",
    "Batch ristretto255 kernels for ECDH-PSI (libsodium ref10 arithmetic).",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__ristretto_native(void)
{
#if HAVE_LANES
    __builtin_cpu_init();
    use_lanes = __builtin_cpu_supports("avx2");
#endif
    return PyModule_Create(&module);
}
