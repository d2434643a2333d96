// The ruleset one evaluator instance works with: the stored field catalogue and the stored group
// definitions compiled against it, read together, reloaded when older than `groupCacheMs`, when a GROUP record says
// they changed, or when an evaluation found them stale. A reload that finds the same revision and
// definitions keeps the compiled ruleset; one that cannot be compiled fails every use until the next
// reload, with the same RulesetError, instead of reading the table again for each record.
import { buildRuleset, type Ruleset } from '#core/ruleset.ts';
import { catalogueOf } from '#core/shipped-catalogue.ts';
import type { EvaluatorContext } from './context.ts';
import type { GroupReads, GroupSetSnapshot } from './ports.ts';

export interface RulesetCache {
  /** The cached ruleset, reloaded first when expired or when `fresh` asks for the stored one. */
  get(fresh?: boolean): Promise<Ruleset>;
  /** The cached ruleset however old, without loading: undefined before a good load or after `invalidate`. */
  peek(): Ruleset | undefined;
  /** The next `get` reloads. */
  invalidate(): void;
}

/** What a ruleset was built from: the same revision and definitions give the same ruleset. */
const signatureOf = (s: GroupSetSnapshot) =>
  `${s.rev}:${JSON.stringify(s.groups.map((g) => g.definition))}:${JSON.stringify(s.fields.map((f) => f.definition))}`;

export function createRulesetCache(
  ctx: Pick<EvaluatorContext, 'config' | 'nowMs'>,
  source: { readonly groups: Pick<GroupReads, 'snapshot'> },
): RulesetCache {
  type Loaded = { ruleset: Ruleset } | { error: unknown };
  let cache: { loaded: Loaded; loadedAt: number } | undefined;
  /** The last ruleset built, kept across invalidation so an unchanged set is not compiled again. */
  let built: { ruleset: Ruleset; signature: string } | undefined;

  async function load(now: number) {
    const snapshot = await source.groups.snapshot();
    const signature = signatureOf(snapshot);
    let loaded: Loaded;
    if (built?.signature === signature) loaded = { ruleset: built.ruleset };
    else {
      try {
        const definitions = snapshot.groups.map((g) => g.definition);
        const catalogue = catalogueOf(snapshot.fields.map((f) => f.definition));
        built = { ruleset: buildRuleset(catalogue, definitions, snapshot.rev), signature };
        loaded = { ruleset: built.ruleset };
      } catch (error: unknown) {
        loaded = { error };
      }
    }
    cache = { loaded, loadedAt: now };
  }

  return {
    async get(fresh = false) {
      const now = ctx.nowMs();
      if (fresh || cache === undefined || now - cache.loadedAt > ctx.config.groupCacheMs) await load(now);
      const loaded = (cache as NonNullable<typeof cache>).loaded;
      if ('error' in loaded) throw loaded.error;
      return loaded.ruleset;
    },
    peek: () => (cache !== undefined && 'ruleset' in cache.loaded ? cache.loaded.ruleset : undefined),
    invalidate() {
      cache = undefined;
    },
  };
}
