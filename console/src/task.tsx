/**
 * One task: its data with every media value shown through the URL the API returns (resolve URLs
 * carry their own signed token, so `<img src>` loads without the Authorization header), and its
 * annotations. The kind of media comes from the label config's tag for the key (Image, Audio,
 * Video, Text, …), or else from the file extension.
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { ErrorBanner, Loading } from './components';
import { paths } from './router';
import type { Project, Task } from './types';

type Kind = 'image' | 'audio' | 'video' | 'text' | 'other';

const TAG_KINDS: Record<string, Kind> = {
  image: 'image', audio: 'audio', audioplus: 'audio', video: 'video', text: 'text', hypertext: 'text', paragraphs: 'text',
};

/** `data key → kind` from the label config's object tags (`<Image value="$image"/>`). */
export function kindsFromConfig(config: string): Record<string, Kind> {
  const kinds: Record<string, Kind> = {};
  try {
    const xml = new DOMParser().parseFromString(config, 'application/xml');
    xml.querySelectorAll('[value^="$"]').forEach((el) => {
      const kind = TAG_KINDS[el.tagName.toLowerCase()];
      if (kind) kinds[el.getAttribute('value')!.slice(1)] = kind;
    });
  } catch {
    // An unparsable config only loses the hints; extensions still decide.
  }
  return kinds;
}

function kindFromUrl(v: string): Kind {
  const path = v.split('?')[0].toLowerCase();
  let file = path;
  // Resolve URLs carry the storage URI base64-encoded in `fileuri`.
  const m = /[?&]fileuri=([^&]+)/.exec(v);
  if (m) {
    try {
      file = atob(decodeURIComponent(m[1]).replace(/-/g, '+').replace(/_/g, '/')).toLowerCase();
    } catch {
      file = path;
    }
  }
  if (/\.(png|jpe?g|gif|webp|bmp|svg|avif)$/.test(file)) return 'image';
  if (/\.(mp3|wav|ogg|flac|m4a|aac)$/.test(file)) return 'audio';
  if (/\.(mp4|webm|mov|mkv)$/.test(file)) return 'video';
  return 'other';
}

const isUrl = (v: unknown): v is string => typeof v === 'string' && (/^https?:\/\//.test(v) || v.startsWith('/'));

function Media({ name, value, kind }: { name: string; value: unknown; kind: Kind | undefined }) {
  if (isUrl(value)) {
    const k = kind && kind !== 'text' ? kind : kindFromUrl(value);
    if (k === 'image') return <img src={value} alt={`${name} of the task`} />;
    if (k === 'audio') return <audio src={value} controls aria-label={`${name} of the task`} />;
    if (k === 'video') return <video src={value} controls aria-label={`${name} of the task`} />;
    return <a href={value} target="_blank" rel="noopener noreferrer">Open {name}</a>;
  }
  if (typeof value === 'string') return <p class="text-value">{value}</p>;
  return <pre>{JSON.stringify(value, null, 2)}</pre>;
}

export function TaskPage({ project, taskId }: { project: Project; taskId: number }) {
  const [task, setTask] = useState<Task | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api<Task>('GET', `/api/tasks/${taskId}`).then(setTask, setError);
  }, [taskId]);
  const kinds = kindsFromConfig(project.label_config ?? '');
  return (
    <section aria-labelledby="task-title">
      <p><a href={paths.tasks(project.id)}>Back to the tasks</a></p>
      <h2 id="task-title">Task {taskId}</h2>
      <ErrorBanner error={error} />
      {!task && !error && <Loading what="the task" />}
      {task && (
        <>
          <dl class="task-meta">
            <div><dt>Storage filename</dt><dd>{task.storage_filename ?? '—'}</dd></div>
            <div><dt>Object exists</dt><dd>{task.object_exists === false ? 'No' : 'Yes'}</dd></div>
            <div><dt>Annotations</dt><dd>{task.total_annotations ?? 0}</dd></div>
          </dl>
          {Object.entries(task.data).map(([name, value]) => (
            <figure key={name} class="media">
              <figcaption><code>{name}</code></figcaption>
              <Media name={name} value={value} kind={kinds[name]} />
            </figure>
          ))}
          <h3>Annotations</h3>
          {task.annotations && task.annotations.length > 0 ? <pre>{JSON.stringify(task.annotations, null, 2)}</pre> : <p class="muted">No annotations.</p>}
        </>
      )}
    </section>
  );
}
