// scrypt's ROMix over a per-thread work buffer (see authd_scrypt.h). Words are kept in
// host order inside the buffer; blocks are little-endian 32-bit words on the way in and out.
#include "authd_scrypt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rotl(uint32_t value, int bits) {
    return (value << bits) | (value >> (32 - bits));
}

/// Salsa20/8 core: B ← B + 8 rounds of Salsa20 on B.
static void salsa20_8(uint32_t b[16]) {
    uint32_t x[16];
    memcpy(x, b, sizeof(x));
    for (int round = 0; round < 8; round += 2) {
        // Columns.
        x[4] ^= rotl(x[0] + x[12], 7);   x[8] ^= rotl(x[4] + x[0], 9);
        x[12] ^= rotl(x[8] + x[4], 13);  x[0] ^= rotl(x[12] + x[8], 18);
        x[9] ^= rotl(x[5] + x[1], 7);    x[13] ^= rotl(x[9] + x[5], 9);
        x[1] ^= rotl(x[13] + x[9], 13);  x[5] ^= rotl(x[1] + x[13], 18);
        x[14] ^= rotl(x[10] + x[6], 7);  x[2] ^= rotl(x[14] + x[10], 9);
        x[6] ^= rotl(x[2] + x[14], 13);  x[10] ^= rotl(x[6] + x[2], 18);
        x[3] ^= rotl(x[15] + x[11], 7);  x[7] ^= rotl(x[3] + x[15], 9);
        x[11] ^= rotl(x[7] + x[3], 13);  x[15] ^= rotl(x[11] + x[7], 18);
        // Rows.
        x[1] ^= rotl(x[0] + x[3], 7);    x[2] ^= rotl(x[1] + x[0], 9);
        x[3] ^= rotl(x[2] + x[1], 13);   x[0] ^= rotl(x[3] + x[2], 18);
        x[6] ^= rotl(x[5] + x[4], 7);    x[7] ^= rotl(x[6] + x[5], 9);
        x[4] ^= rotl(x[7] + x[6], 13);   x[5] ^= rotl(x[4] + x[7], 18);
        x[11] ^= rotl(x[10] + x[9], 7);  x[8] ^= rotl(x[11] + x[10], 9);
        x[9] ^= rotl(x[8] + x[11], 13);  x[10] ^= rotl(x[9] + x[8], 18);
        x[12] ^= rotl(x[15] + x[14], 7); x[13] ^= rotl(x[12] + x[15], 9);
        x[14] ^= rotl(x[13] + x[12], 13); x[15] ^= rotl(x[14] + x[13], 18);
    }
    for (int i = 0; i < 16; i++) {
        b[i] += x[i];
    }
}

/// BlockMix: `out` ← BlockMix(`in`), 2r 64-byte sub-blocks of 16 words; even outputs go to
/// the first half, odd ones to the second (RFC 7914 §4).
static void block_mix(uint32_t *out, const uint32_t *in, size_t r) {
    uint32_t x[16];
    memcpy(x, in + (2 * r - 1) * 16, sizeof(x));
    for (size_t i = 0; i < 2 * r; i++) {
        for (int k = 0; k < 16; k++) {
            x[k] ^= in[i * 16 + k];
        }
        salsa20_8(x);
        memcpy(out + (i / 2 + (i & 1) * r) * 16, x, sizeof(x));
    }
}

/// ROMix of one block of 128·r bytes, in place. `v` holds N blocks, `x` and `t` one each.
static void ro_mix(uint8_t *block, size_t r, uint64_t n, uint32_t *v, uint32_t *x, uint32_t *t) {
    const size_t words = 32 * r;
    for (size_t i = 0; i < words; i++) {
        const uint8_t *p = block + 4 * i;
        v[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    for (uint64_t i = 1; i < n; i++) {
        block_mix(v + i * words, v + (i - 1) * words, r);
    }
    block_mix(x, v + (n - 1) * words, r);
    for (uint64_t i = 0; i < n; i++) {
        // Integerify: the first word of the last sub-block, mod N (a power of two below 2^32).
        const uint64_t j = x[(2 * r - 1) * 16] & (n - 1);
        const uint32_t *vj = v + j * words;
        for (size_t k = 0; k < words; k++) {
            t[k] = x[k] ^ vj[k];
        }
        block_mix(x, t, r);
    }
    for (size_t i = 0; i < words; i++) {
        uint8_t *p = block + 4 * i;
        p[0] = (uint8_t)x[i];
        p[1] = (uint8_t)(x[i] >> 8);
        p[2] = (uint8_t)(x[i] >> 16);
        p[3] = (uint8_t)(x[i] >> 24);
    }
}

// The kept buffer of this thread: freed when the thread ends.
struct kept_buffer {
    void *memory;
    size_t size;
};

static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;

static void free_kept(void *pointer) {
    struct kept_buffer *kept = pointer;
    free(kept->memory);
    free(kept);
}

static int kept_key_made;

static void make_kept_key(void) {
    kept_key_made = pthread_key_create(&kept_key, free_kept) == 0;
}

/// This thread's buffer of at least `size` bytes, or NULL.
static void *kept_buffer(size_t size) {
    if (pthread_once(&kept_once, make_kept_key) != 0 || !kept_key_made) {
        return NULL;
    }
    struct kept_buffer *kept = pthread_getspecific(kept_key);
    if (kept == NULL) {
        kept = calloc(1, sizeof(*kept));
        if (kept == NULL || pthread_setspecific(kept_key, kept) != 0) {
            free(kept);
            return NULL;
        }
    }
    if (kept->size < size) {
        free(kept->memory);
        kept->memory = malloc(size);
        kept->size = kept->memory == NULL ? 0 : size;
    }
    return kept->memory;
}

/// Zeroes what the hash left in memory: any of its blocks would let a guess be checked
/// without paying for the memory. The barrier keeps the compiler from dropping the memset.
static void wipe(void *memory, size_t size) {
    memset(memory, 0, size);
    __asm__ __volatile__("" : : "r"(memory) : "memory");
}

int authd_scrypt_romix(uint8_t *blocks, size_t r, uint64_t n, size_t p, size_t keep_limit) {
    if (r == 0 || n < 2 || (n & (n - 1)) != 0 || n > UINT32_MAX) {
        return -1;
    }
    const size_t block_bytes = 128 * r;
    if (block_bytes / 128 != r || n + 2 < n || (n + 2) > SIZE_MAX / block_bytes) {
        return -1;
    }
    const size_t size = block_bytes * (size_t)(n + 2);
    int kept = size <= keep_limit;
    void *memory = kept ? kept_buffer(size) : NULL;
    if (memory == NULL) {
        // Too large to keep, or no thread slot: a buffer for this call only.
        kept = 0;
        memory = malloc(size);
    }
    if (memory == NULL) {
        return -1;
    }
    uint32_t *v = memory;
    uint32_t *x = v + (size_t)n * 32 * r;
    uint32_t *t = x + 32 * r;
    for (size_t i = 0; i < p; i++) {
        ro_mix(blocks + i * block_bytes, r, n, v, x, t);
    }
    wipe(memory, size);
    if (!kept) {
        free(memory);
    }
    return 0;
}
