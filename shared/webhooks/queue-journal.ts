/**
 * The in-process delivery queue's journal: an append-only JSONL file of the jobs waiting for
 * their timers (`{"id","job","dueAt"}` when enqueued, `{"id","done":true}` when handled), so
 * deliveries waiting in `npm start` survive a restart as they survive in SQS. Appends are
 * synchronous (one small write per change; a crash loses nothing acknowledged). A torn last line
 * is skipped. The file is rewritten with only the live jobs when it is opened and whenever the
 * handled lines outnumber the live ones by {@link COMPACT_AFTER}.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DeliveryJob } from './types';

/** One waiting job. */
export interface JournalEntry {
  job: DeliveryJob;
  dueAt: number;
}

/** Handled lines beyond the live ones that trigger a rewrite. */
export const COMPACT_AFTER = 1_000;

export class QueueJournal {
  private readonly live = new Map<string, JournalEntry>();
  private handled = 0;

  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    if (existsSync(file)) this.replay(readFileSync(file, 'utf8'));
    this.compact();
  }

  /** Jobs enqueued and not yet handled, as of opening plus changes since. */
  entries(): [string, JournalEntry][] {
    return [...this.live];
  }

  add(id: string, entry: JournalEntry): void {
    this.live.set(id, entry);
    appendFileSync(this.file, JSON.stringify({ id, ...entry }) + '\n');
  }

  done(id: string): void {
    if (!this.live.delete(id)) return;
    appendFileSync(this.file, JSON.stringify({ id, done: true }) + '\n');
    if (++this.handled > this.live.size + COMPACT_AFTER) this.compact();
  }

  private replay(text: string): void {
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let r: { id?: unknown; done?: unknown; job?: DeliveryJob; dueAt?: unknown };
      try {
        r = JSON.parse(line);
      } catch {
        continue; // a line torn by a crash mid-append
      }
      if (typeof r.id !== 'string') continue;
      if (r.done) this.live.delete(r.id);
      else if (r.job && typeof r.dueAt === 'number') this.live.set(r.id, { job: r.job, dueAt: r.dueAt });
    }
  }

  /** Rewrites the file with the live jobs only (write aside, then rename: never half a file). */
  private compact(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, [...this.live].map(([id, e]) => JSON.stringify({ id, ...e }) + '\n').join(''));
    renameSync(tmp, this.file);
    this.handled = 0;
  }
}
