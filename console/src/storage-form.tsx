/**
 * The Add / Edit storage dialog: storage type, the type's fields (from the server's OpenAPI
 * document), Check Connection (validate), Preview Files (import only), Add Storage / Save.
 * Server field errors appear under their fields (aria-describedby), the rest at the top.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api';
import { Dialog, ErrorBanner, Loading } from './components';
import { buildBody, type Values } from './storage-body';
import { storageBase, storageFields, storageTypes, type FieldSpec, type Role, type StorageType } from './storage-schema';
import type { Project, Storage } from './types';


interface PreviewFile {
  key: string | null;
  last_modified?: string | null;
  size?: number | null;
}

function initialValues(fields: FieldSpec[], storage: Storage | undefined): Values {
  const v: Values = {};
  for (const f of fields) {
    const current = storage ? storage[f.name] : f.default;
    if (f.secret) v[f.name] = '';
    else if (f.widget === 'checkbox') v[f.name] = current === true;
    else v[f.name] = current === null || current === undefined ? '' : String(current);
  }
  return v;
}

export function StorageDialog(props: { role: Role; project: Project; storage?: Storage; externalId?: string; onClose: () => void; onSaved: () => void }) {
  const editing = Boolean(props.storage);
  const [types, setTypes] = useState<StorageType[] | null>(null);
  const [type, setType] = useState(props.storage?.type ?? 's3');
  const [fields, setFields] = useState<FieldSpec[] | null>(null);
  const [values, setValues] = useState<Values>({});
  const [replaced, setReplaced] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>(null);
  const [checked, setChecked] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [files, setFiles] = useState<PreviewFile[] | null>(null);

  useEffect(() => {
    storageTypes(props.role).then((t) => {
      setTypes(t);
      if (!props.storage && !t.some((x) => x.name === type) && t[0]) setType(t[0].name);
    }, setError);
  }, [props.role]);
  useEffect(() => {
    setFields(null);
    setFiles(null);
    setChecked(null);
    setError(null);
    // A type changed while its predecessor's fields were loading: the stale answer must not
    // replace the form (and what the user has typed since) with the old type's defaults.
    let current = true;
    storageFields(props.role, type).then(
      (f) => {
        if (!current) return;
        setFields(f);
        setValues(initialValues(f, props.storage));
        setReplaced(new Set());
      },
      (e) => current && setError(e),
    );
    return () => {
      current = false;
    };
  }, [type]);

  // The previous type's form goes in the same render as the switch: left on screen until the
  // effect ran, it took input that the new type's defaults then replaced.
  const switchType = (next: string) => {
    if (next === type) return;
    setFields(null);
    setType(next);
  };

  const roleName = props.role === 'export' ? 'Target' : 'Source';
  const title = editing ? `Edit ${roleName} Storage` : `Add ${roleName} Storage`;
  const fieldErrors = error instanceof ApiError ? error.fields : {};
  const shown = new Set((fields ?? []).map((f) => f.name));
  const topError = error instanceof ApiError
    ? (error.general.length || Object.keys(error.fields).some((k) => !shown.has(k))
      ? new ApiError(error.status, error.message, Object.fromEntries(Object.entries(error.fields).filter(([k]) => !shown.has(k))), error.general)
      : Object.keys(error.fields).length ? new ApiError(error.status, 'Some fields need attention: see the messages under them.', {}, ['Some fields need attention: see the messages under them.']) : null)
    : error;

  const body = (): Record<string, unknown> => {
    const b = buildBody(fields ?? [], values, replaced, editing);
    b.project = props.project.id;
    if (props.storage) b.id = props.storage.id;
    return b;
  };
  const run = async (what: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setChecked(null);
    try {
      await what();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const check = () => run(async () => {
    await api('POST', `${storageBase(props.role, type)}/validate`, body());
    setChecked('Connection succeeded: labelsync can reach the storage with these settings.');
  });
  const preview = () => run(async () => {
    const r = await api<{ files: PreviewFile[] }>('POST', `${storageBase(props.role, type)}/files`, { ...body(), limit: 20 });
    setFiles(r.files);
  });
  const save = (ev: Event) => {
    ev.preventDefault();
    return run(async () => {
      const b = body();
      if (props.storage) {
        delete b.id;
        await api('PATCH', `${storageBase(props.role, type)}/${props.storage.id}`, b);
      } else {
        await api('POST', storageBase(props.role, type), b);
      }
      props.onSaved();
    });
  };
  const set = (name: string, v: string | boolean) => setValues({ ...values, [name]: v });

  return (
    <Dialog title={title} onClose={props.onClose} wide>
      <form onSubmit={save} noValidate class="form">
        <ErrorBanner error={topError} />
        {checked && <p class="notice" role="status">{checked}</p>}
        <div class="field">
          <label for="storage-type">Storage Type</label>
          <select id="storage-type" value={type} disabled={editing || !types} onChange={(e) => switchType((e.target as HTMLSelectElement).value)}>
            {(types ?? [{ name: type, title: type }]).map((t) => <option key={t.name} value={t.name}>{t.title}</option>)}
          </select>
        </div>
        {!fields && !error && <Loading what="the storage fields" />}
        {fields?.map((f) => (
          <FieldInput key={`${type}-${f.name}`} field={f} value={values[f.name]} errors={fieldErrors[f.name]} onChange={(v) => set(f.name, v)}
            stored={Boolean(props.storage?.[`has_${f.name}`])} replacing={replaced.has(f.name)} externalId={props.externalId}
            onReplace={() => setReplaced(new Set([...replaced, f.name]))} />
        ))}
        {files && <FilePreview files={files} />}
        <div class="actions">
          <button type="button" onClick={check} disabled={busy || !fields}>Check Connection</button>
          {props.role === 'import' && <button type="button" onClick={preview} disabled={busy || !fields}>Preview Files</button>}
          <button type="submit" class="primary" disabled={busy || !fields}>{editing ? 'Save' : 'Add Storage'}</button>
          <button type="button" onClick={props.onClose}>Cancel</button>
        </div>
      </form>
    </Dialog>
  );
}

function FieldInput(props: {
  field: FieldSpec; value: string | boolean | undefined; errors?: string[]; stored: boolean; replacing: boolean; externalId?: string;
  onChange: (v: string | boolean) => void; onReplace: () => void;
}) {
  const f = props.field;
  const id = `storage-field-${f.name}`;
  const errId = `${id}-error`;
  const helpId = `${id}-help`;
  const describedBy = [props.errors ? errId : '', f.help ? helpId : ''].filter(Boolean).join(' ') || undefined;
  const invalid = props.errors ? true : undefined;
  const errors = props.errors && <p class="field-error" id={errId}>{props.errors.join(' ')}</p>;
  const help = f.help && <p class="help" id={helpId}>{f.help}</p>;
  const label = `${f.label}${f.required ? ' (required)' : ''}`;
  if (f.widget === 'readonly') {
    const value = props.externalId ?? '';
    return (
      <div class="field" role="group" aria-labelledby={id}>
        <span class="label-like" id={id}>{f.label}</span>
        <div class="copy">
          <code>{value || 'unknown'}</code>
          <button type="button" onClick={() => void navigator.clipboard?.writeText(value)} disabled={!value}>Copy External ID</button>
        </div>
        <p class="help">Your organization's external id: put it in the role's trust policy (<code>sts:ExternalId</code>).</p>
        {errors}
      </div>
    );
  }
  if (f.widget === 'checkbox') {
    return (
      <div class="field check">
        <input id={id} type="checkbox" checked={props.value === true} onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)} aria-invalid={invalid} aria-describedby={describedBy} />
        <label for={id}>{f.label}</label>
        {help}
        {errors}
      </div>
    );
  }
  if (f.secret && props.stored && !props.replacing) {
    return (
      <div class="field" role="group" aria-labelledby={id}>
        <span class="label-like" id={id}>{f.label}</span>
        <div class="secret-stored">
          <span>stored</span>
          <button type="button" onClick={() => { props.onReplace(); setTimeout(() => document.getElementById(id)?.focus(), 0); }} aria-describedby={describedBy}>Replace {f.label}</button>
        </div>
        {errors}
      </div>
    );
  }
  const common = {
    id,
    value: String(props.value ?? ''),
    'aria-invalid': invalid,
    'aria-describedby': describedBy,
    'aria-required': f.required ? 'true' as const : undefined,
    onInput: (e: Event) => props.onChange((e.target as HTMLInputElement).value),
  };
  let input;
  if (f.widget === 'select') {
    input = (
      <select {...common} onChange={common.onInput}>
        {!f.required && <option value="">(default)</option>}
        {f.options!.map((o) => <option key={o} value={o}>{o}</option>)}
      </select>
    );
  } else if (f.widget === 'textarea') {
    input = <textarea {...common} rows={f.secret ? 5 : 3} spellcheck={false} autoComplete="off" />;
  } else {
    input = f.secret
      ? <input {...common} type="password" autoComplete="new-password" spellcheck={false} />
      : <input {...common} type="text" inputMode={f.widget === 'number' ? 'numeric' : undefined} autoComplete="off" spellcheck={false} />;
  }
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {input}
      {f.secret && props.replacing && <p class="help">Leave empty to clear the stored value.</p>}
      {help}
      {errors}
    </div>
  );
}

function FilePreview({ files }: { files: PreviewFile[] }) {
  const real = files.filter((f) => f.key !== null);
  const more = real.length < files.length;
  return (
    <section aria-labelledby="preview-title">
      <h3 id="preview-title">Files a sync would import</h3>
      {real.length === 0 ? <p>No objects match the prefix and filter.</p> : (
        <table>
          <thead><tr><th scope="col">Key</th><th scope="col">Size</th><th scope="col">Last modified</th></tr></thead>
          <tbody>
            {real.map((f) => (
              <tr key={f.key!}><td>{f.key}</td><td>{f.size ?? ''}</td><td>{f.last_modified ?? ''}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {more && <p class="muted">More objects follow: only the first ones are shown.</p>}
    </section>
  );
}
