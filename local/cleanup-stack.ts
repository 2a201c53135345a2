/**
 * What a starting runtime must undo, in reverse order of start. A failing step is logged and the
 * rest still run: a stop that gave up half way would leave a JVM or a port behind.
 */
export class CleanupStack {
  private readonly steps: (() => Promise<void>)[] = [];

  constructor(private readonly log: (message: string) => void) {}

  push(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  /** Runs (and forgets) every step pushed so far, last first. */
  async runAll(): Promise<void> {
    for (const c of this.steps.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        this.log(`[runtime] stop: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
