/**
 * A storage's sync as its `meta` shows it while it runs and after: counters, a progress bar with
 * percent and ETA once the listing is complete, then the per-file failures and the traceback.
 * Export syncs name their counters after annotations (`annotations_listed`, …).
 */
import type { Storage } from './types';

const num = (meta: Record<string, unknown>, name: string): number | undefined => {
  const v = meta[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

function eta(seconds: number | undefined): string {
  if (seconds === undefined) return 'estimating…';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

interface Failure {
  key?: unknown;
  reason?: unknown;
}

export const isRunning = (s: Storage): boolean => s.status === 'queued' || s.status === 'in_progress';

export function SyncProgress({ storage, role }: { storage: Storage; role: 'import' | 'export' }) {
  const meta = (storage.meta ?? {}) as Record<string, unknown>;
  const unit = role === 'export' ? 'annotations' : 'objects';
  const listed = num(meta, `${unit}_listed`);
  const processed = num(meta, `${unit}_processed`);
  const total = num(meta, `${unit}_total`);
  const percent = num(meta, 'percent');
  const running = isRunning(storage);
  if (!running && listed === undefined && processed === undefined && !storage.traceback) return null;
  const name = storage.title || `${storage.type} ${storage.id}`;
  const counters: [string, number | undefined][] =
    role === 'export'
      ? [
          ['Annotations listed', listed],
          ['Processed', processed],
          ['Exported', num(meta, 'annotations_exported')],
          ['Failed', num(meta, 'annotations_failed')],
        ]
      : [
          ['Objects listed', listed],
          ['Processed', processed],
          ['Tasks created', num(meta, 'tasks_created')],
          ['Tasks updated', num(meta, 'tasks_updated')],
          ['Unchanged', num(meta, 'objects_unchanged')],
          ['Failed', num(meta, 'objects_failed')],
          ['Tasks removed', num(meta, 'tasks_removed')],
          ['Tasks flagged', num(meta, 'tasks_flagged')],
        ];
  const failures = Array.isArray(meta.failures) ? (meta.failures as Failure[]) : [];
  return (
    <section class="progress" aria-label={`Sync of ${name}`}>
      {running && storage.status === 'queued' && <p role="status">Sync queued…</p>}
      {percent !== undefined ? (
        <div>
          <div class="bar" role="progressbar" aria-label={`Sync progress of ${name}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent} aria-valuetext={`${percent}%`}>
            <div class="bar-fill" style={{ width: `${Math.min(100, Math.max(0, percent))}%` }} />
          </div>
          <p aria-live="polite">
            {percent}%{total !== undefined ? ` (${processed ?? 0} of ${total} ${unit})` : ''}
            {running ? ` · ETA ${eta(num(meta, 'eta_seconds'))}` : ''}
          </p>
        </div>
      ) : running ? (
        <p aria-live="polite">Listing {unit}: {listed ?? 0} so far…</p>
      ) : null}
      <dl class="counters">
        {counters.filter(([, v]) => v !== undefined).map(([label, v]) => (
          <div key={label}><dt>{label}</dt><dd>{v}</dd></div>
        ))}
      </dl>
      {failures.length > 0 && (
        <details open={failures.length <= 5}>
          <summary>Failed files ({failures.length}{num(meta, `${unit}_failed`) !== undefined && num(meta, `${unit}_failed`)! > failures.length ? ` of ${num(meta, `${unit}_failed`)}` : ''})</summary>
          <ul>
            {failures.map((f, i) => (
              <li key={i}><code>{String(f.key ?? '(unknown)')}</code>: {String(f.reason ?? '')}</li>
            ))}
          </ul>
        </details>
      )}
      {storage.traceback && (
        <details>
          <summary>Traceback</summary>
          <pre>{storage.traceback}</pre>
        </details>
      )}
    </section>
  );
}
