/** The one command-line option every benchmark takes: `--quick`, a short smoke run. */
export function choosePlan<T>(argv: readonly string[], full: T, quick: T): T {
  let plan = full;
  for (const arg of argv) {
    if (arg === '--quick') plan = quick;
    else throw new Error(`unknown argument ${JSON.stringify(arg)}; the only option is --quick`);
  }
  return plan;
}
