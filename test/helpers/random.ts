// Tests and benchmarks use the local runtime's seeded generator (local/random.ts).
export { type Random, seededRandom } from '#local/random.ts';
