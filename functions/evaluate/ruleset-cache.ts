// The compiled group definitions one evaluator instance works with, reloaded when older than
// `groupCacheMs`, when a GROUP record says they changed, or when an evaluation found them stale.
import { compileGroups } from '#core/criteria/index.ts';
import type { CompiledGroupSet } from '#core/criteria/types.ts';
import type { EvaluatorContext } from './context.ts';
import type { GroupReads } from './ports.ts';

export interface RulesetCache {
  /** The cached set, reloaded first when expired or when `fresh` asks for the stored one. */
  get(fresh?: boolean): Promise<CompiledGroupSet>;
  /** The cached set however old, without loading: undefined before the first load. */
  peek(): CompiledGroupSet | undefined;
  /** The next `get` reloads. */
  invalidate(): void;
}

export function createRulesetCache(
  ctx: Pick<EvaluatorContext, 'config' | 'nowMs'>,
  groups: Pick<GroupReads, 'list'>,
): RulesetCache {
  let cache: { set: CompiledGroupSet; loadedAt: number } | undefined;
  return {
    async get(fresh = false) {
      const now = ctx.nowMs();
      if (fresh || cache === undefined || now - cache.loadedAt > ctx.config.groupCacheMs) {
        const defs = (await groups.list()).map((g) => g.definition);
        cache = { set: compileGroups(defs), loadedAt: now };
      }
      return cache.set;
    },
    peek: () => cache?.set,
    invalidate() {
      cache = undefined;
    },
  };
}
