/**
 * The folder of warmup's caches (the plan cache, status's compiled code):
 * `$WARMUP_CACHE_DIR` (`off` or empty: no cache), else `$XDG_CACHE_HOME/warmup`,
 * else `~/.cache/warmup`. `home` is asked only when needed (the bin calls this
 * before loading node:os).
 */
export function cacheDir(env: Readonly<Record<string, string | undefined>>, home: () => string, join: (...parts: string[]) => string, resolve: (p: string) => string): string | null {
  const asked = env.WARMUP_CACHE_DIR;
  if (asked !== undefined) return asked === '' || asked === 'off' ? null : resolve(asked);
  const base = env.XDG_CACHE_HOME ? env.XDG_CACHE_HOME : join(env.HOME ?? home(), '.cache');
  return join(base, 'warmup');
}
