/**
 * Benchmark targets: each part of `npm run bench` reports a target as one line with the figure,
 * the limit or budget it is held to (measured in the same run where it is a raw limit) and MET or
 * MISSED; bench/index.ts prints every target again in a summary at the end.
 */

export interface TargetResult {
  /** What is measured ("sync blob, localfiles"). */
  name: string;
  /** The measured figure, with its unit ("0.89 of raw", "3.1 MiB"). */
  figure: string;
  /** The bound and what it is relative to ("≥ 0.8 of raw list+write 21.2 s"). */
  limit: string;
  met: boolean;
}

const results: TargetResult[] = [];

/** Records a target, prints its line and returns whether it was met. */
export function target(result: TargetResult, log: (line: string) => void = console.log): boolean {
  results.push(result);
  log(formatTarget(result));
  return result.met;
}

export function formatTarget(r: TargetResult): string {
  return `${r.met ? 'MET   ' : 'MISSED'} ${r.name}: ${r.figure} (target ${r.limit})`;
}

/** Targets recorded so far in this process, in order. */
export function recordedTargets(): readonly TargetResult[] {
  return results;
}

/** The summary lines: every target, then the count met. */
export function targetSummary(): string[] {
  const met = results.filter((r) => r.met).length;
  return ['', '=== bench: targets ===', ...results.map(formatTarget), `${met} of ${results.length} targets met${met < results.length ? `, ${results.length - met} MISSED` : ''}`];
}
