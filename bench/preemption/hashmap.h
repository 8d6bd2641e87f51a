/* A small open-addressing map from 64-bit keys to 64-bit values and a word-wise hash,
 * shared by the preemption study's drivers. Key 0 is reserved (keys are hashes or
 * addresses; a zero key is stored as 1, a collision the study can afford). */
#ifndef PREEMPTION_HASHMAP_H
#define PREEMPTION_HASHMAP_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27; x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static inline uint64_t hash64(const void *p, size_t n, uint64_t seed) {
  const uint8_t *b = p;
  uint64_t h = mix64(seed ^ n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) { uint64_t w; memcpy(&w, b + i, 8); h = mix64(h ^ w) + i; }
  if (i < n) { uint64_t w = 0; memcpy(&w, b + i, n - i); h = mix64(h ^ w ^ 0xff); }
  return h;
}

typedef struct { uint64_t *keys, *vals; size_t cap, n; } Map;

static inline void map_init(Map *m) {
  m->cap = 1024; m->n = 0;
  m->keys = calloc(m->cap, 8); m->vals = calloc(m->cap, 8);
}
static inline void map_clear(Map *m) { memset(m->keys, 0, m->cap * 8); m->n = 0; }

static inline uint64_t *map_get(Map *m, uint64_t k) {
  if (!k) k = 1;
  for (size_t i = mix64(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == k) return &m->vals[i];
    if (!m->keys[i]) return NULL;
  }
}

static inline void map_put(Map *m, uint64_t k, uint64_t v);
static inline void map_grow(Map *m) {
  Map g = { calloc(m->cap * 2, 8), calloc(m->cap * 2, 8), m->cap * 2, 0 };
  for (size_t i = 0; i < m->cap; i++) if (m->keys[i]) map_put(&g, m->keys[i], m->vals[i]);
  free(m->keys); free(m->vals); *m = g;
}
static inline void map_put(Map *m, uint64_t k, uint64_t v) {
  if (!k) k = 1;
  if ((m->n + 1) * 2 > m->cap) map_grow(m);
  size_t i = mix64(k) & (m->cap - 1);
  while (m->keys[i] && m->keys[i] != k) i = (i + 1) & (m->cap - 1);
  if (!m->keys[i]) m->n++;
  m->keys[i] = k; m->vals[i] = v;
}
#endif
