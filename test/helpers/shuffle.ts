// Shuffles that reproduce: each test that shuffles picks a seed (KEYWATCH_TEST_SEED, else a random
// one), and if the test fails the seed is printed, so the same order can be replayed.
import { onTestFailed } from 'vitest';
import { seededRandom } from './random.ts';

/** A Fisher–Yates shuffle of a copy of `items`. Call it inside a test: a failure prints the seed. */
export function shuffleInTest<T>(items: readonly T[]): T[] {
  const fromEnv = process.env.KEYWATCH_TEST_SEED;
  const seed = fromEnv === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(fromEnv);
  if (!Number.isInteger(seed)) throw new Error(`KEYWATCH_TEST_SEED must be an integer, got ${fromEnv}`);
  onTestFailed(() => {
    console.error(`shuffled with seed ${seed}; KEYWATCH_TEST_SEED=${seed} replays this order`);
  });
  const random = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
