/** Small shared pieces: error banner, loading line, pager, status badge, modal dialog. */
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { ApiError } from './api';

/** An API or other error as a readable alert (general messages; field messages listed too). */
export function ErrorBanner({ error, id }: { error: unknown; id?: string }) {
  if (!error) return null;
  const lines =
    error instanceof ApiError
      ? [...error.general, ...Object.entries(error.fields).map(([k, v]) => `${k}: ${v.join(' ')}`)]
      : [error instanceof Error ? error.message : String(error)];
  const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : '';
  return (
    <div class="error" role="alert" id={id}>
      <strong>Error{status}:</strong>
      {lines.length === 1 ? <span> {lines[0]}</span> : <ul>{lines.map((l) => <li key={l}>{l}</li>)}</ul>}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p class="muted" role="status">Loading {what}…</p>;
}

/** Previous / Next paging with the current page stated. */
export function Pager(props: { label: string; page: number; pages?: number; hasPrev: boolean; hasNext: boolean; onPrev: () => void; onNext: () => void }) {
  return (
    <nav class="pager" aria-label={props.label}>
      <button type="button" onClick={props.onPrev} disabled={!props.hasPrev}>Previous page</button>
      <span aria-live="polite">Page {props.page}{props.pages ? ` of ${props.pages}` : ''}</span>
      <button type="button" onClick={props.onNext} disabled={!props.hasNext}>Next page</button>
    </nav>
  );
}

const STATUS_TEXT: Record<string, string> = {
  initialized: 'Initialized',
  queued: 'Queued',
  in_progress: 'In progress',
  completed: 'Completed',
  completed_with_errors: 'Completed with errors',
  failed: 'Failed',
};

export function StatusBadge({ status }: { status: string | undefined }) {
  const s = status ?? 'initialized';
  return <span class={`badge badge-${s}`}>{STATUS_TEXT[s] ?? s}</span>;
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog: focus moves into it, Tab cycles inside it, Escape closes it, and focus returns
 * to what had it before.
 */
export function Dialog(props: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  const headingId = useRef(`dlg-${Math.random().toString(36).slice(2)}`).current;
  const onClose = useRef(props.onClose);
  onClose.current = props.onClose;
  // The opener, read while rendering the dialog's first frame: by the time effects run, an
  // `autofocus` control inside the dialog may already hold focus, and it is gone on close.
  const opener = useRef(document.activeElement as HTMLElement | null).current;
  // A layout effect: focus is inside the dialog before it is painted, so a keystroke that follows
  // the dialog's appearance never reaches the page behind it.
  useLayoutEffect(() => {
    const first = ref.current?.querySelector<HTMLElement>('[autofocus]') ?? ref.current?.querySelector<HTMLElement>(FOCUSABLE);
    (first ?? ref.current)?.focus();
    // On the document, not the dialog: a control that unmounts (Replace) leaves focus on the body.
    const onKeyDown = (ev: KeyboardEvent) => {
      const box = ref.current;
      if (!box) return;
      if (ev.key === 'Escape') {
        ev.preventDefault();
        onClose.current();
        return;
      }
      if (ev.key !== 'Tab') return;
      const items = [...box.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((e) => e.offsetParent !== null);
      if (items.length === 0) return;
      const first = items[0];
      const last = items[items.length - 1];
      const inside = box.contains(document.activeElement);
      if (!inside || (ev.shiftKey && document.activeElement === first)) {
        ev.preventDefault();
        (ev.shiftKey ? last : first).focus();
      } else if (!ev.shiftKey && document.activeElement === last) {
        ev.preventDefault();
        first.focus();
      }
    };
    document.addEventListener('keydown', onKeyDown);
    return () => {
      document.removeEventListener('keydown', onKeyDown);
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <div class="backdrop">
      <div ref={ref} class={props.wide ? 'dialog wide' : 'dialog'} role="dialog" aria-modal="true" aria-labelledby={headingId} tabIndex={-1}>
        <h2 id={headingId}>{props.title}</h2>
        {props.children}
      </div>
    </div>
  );
}

/** A date-time as the user's locale shows it ("never" for none). */
export function when(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
