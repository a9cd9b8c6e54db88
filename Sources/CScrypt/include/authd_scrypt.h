#pragma once
#include <stddef.h>
#include <stdint.h>

/// scrypt's ROMix (RFC 7914 §5, with BlockMix over Salsa20/8) applied in place to each of
/// the `p` blocks of `blocks` (p × 128 × r bytes): the memory-hard middle of scrypt, between
/// its two PBKDF2-HMAC-SHA256 steps (which the caller runs through OpenSSL).
///
/// The work buffer (128 × r × (N + 2) bytes) is kept per thread and reused when it is at
/// most `keep_limit` bytes, so that a hashing thread does not fault in fresh pages for every
/// hash; larger ones are allocated for the call. It is wiped after every call either way.
/// `n` must be a power of two above 1, below 2^32. Returns 0, or -1 when the buffer cannot
/// be allocated or its size overflows.
int authd_scrypt_romix(uint8_t *blocks, size_t r, uint64_t n, size_t p, size_t keep_limit);
