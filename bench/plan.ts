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

/**
 * Takes `name value` out of `argv` (both, so choosePlan does not see them) and returns
 * `parse(value)`; `fallback` when `name` is not there. Throws naming the option and what it takes
 * (`expected`) when the value is missing or `parse` refuses it (returns undefined).
 */
export function takeOption<T>(argv: string[], name: string, expected: string, fallback: T, parse: (value: string) => T | undefined): T {
  const at = argv.indexOf(name);
  if (at < 0) return fallback;
  const value = argv[at + 1];
  const parsed = value === undefined || value.startsWith('--') ? undefined : parse(value);
  if (parsed === undefined) throw new Error(`${name} needs ${expected}, got ${JSON.stringify(value ?? null)}`);
  argv.splice(at, 2);
  return parsed;
}

/** A parse for takeOption: a whole number from `min` to `max`, else undefined. */
export function wholeNumber(min: number, max: number): (value: string) => number | undefined {
  return (value) => {
    const n = Number(value);
    return /^\d+$/.test(value) && n >= min && n <= max ? n : undefined;
  };
}
