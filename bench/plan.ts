/**
 * The one command-line option every benchmark takes: `--quick`, a short smoke run. A benchmark
 * with options of its own takes them out of `argv` first and names them in `ownOptions`, so the
 * error for an unknown argument lists every option that benchmark has.
 */
export function choosePlan<T>(argv: readonly string[], full: T, quick: T, ownOptions: readonly string[] = []): T {
  let plan = full;
  for (const arg of argv) {
    if (arg === '--quick') plan = quick;
    else throw new Error(`unknown argument ${JSON.stringify(arg)}; the options are ${['--quick', ...ownOptions].join(', ')}`);
  }
  return plan;
}
