// Stateless seeded randomness: every decision is a hash of (seed, what is decided, for
// whom). A retry of the same saga therefore gets the same answer no matter how calls of
// other sagas interleave, and a whole demo run can be replayed from its seed.

/** A number in [0, 1) derived from the seed and the parts; same inputs, same number. */
export function roll(seed: number, ...parts: Array<string | number>): number {
  const text = `${seed}|${parts.join('|')}`
  // FNV-1a over UTF-16 units, then a murmur3 finaliser to spread the low bits.
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 0x1_0000_0000
}

/** A sequential generator (mulberry32), for producing inputs rather than decisions. */
export function sequence(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000
  }
}
