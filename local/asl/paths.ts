/**
 * Amazon States Language data paths: reference paths (`$.a.b[0]`, `$$.Map.Item.Value`), payload
 * templates (keys ending in `.$` take a path or an intrinsic function) and ResultPath writes.
 * Only reference paths are supported (no `..`, `[*]` or filters), which is what Parameters and
 * ResultPath accept in Step Functions too; anything else is a States.Runtime error at run time.
 */
import { StatesError } from './errors';
import { callIntrinsic } from './intrinsics';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

type Segment = string | number;

/** `$.a['b'][0]` → ['a', 'b', 0]; the root is `$` (input) or `$$` (context object). */
export function parsePath(path: string): { root: '$' | '$$'; segments: Segment[] } {
  const root = path.startsWith('$$') ? '$$' : '$';
  if (!path.startsWith('$')) throw new StatesError('States.Runtime', `'${path}' is not a JSONPath`);
  const segments: Segment[] = [];
  const re = /\.([A-Za-z0-9_\-$@#%&*+:<>/?|~^!]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y;
  re.lastIndex = root.length;
  while (re.lastIndex < path.length) {
    const at = re.lastIndex;
    const m = re.exec(path);
    if (!m) throw new StatesError('States.Runtime', `Unsupported JSONPath '${path}' at offset ${at}`);
    segments.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (m[3] ?? m[4]).replace(/\\(.)/g, '$1')));
  }
  return { root, segments };
}

const MISSING = Symbol('missing');

function walk(value: unknown, segments: Segment[]): unknown {
  let cur = value;
  for (const s of segments) {
    if (typeof s === 'number') {
      if (!Array.isArray(cur) || s >= cur.length) return MISSING;
      cur = cur[s];
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, s)) return MISSING;
      cur = (cur as Record<string, unknown>)[s];
    }
  }
  return cur;
}

/** Whether `path` names a value (Choice's IsPresent). */
export function hasPath(path: string, input: unknown, context: unknown): boolean {
  const { root, segments } = parsePath(path);
  return walk(root === '$' ? input : context, segments) !== MISSING;
}

/** The value at `path`. @throws StatesError States.Runtime when it names nothing */
export function readPath(path: string, input: unknown, context: unknown, field = 'path'): Json {
  const { root, segments } = parsePath(path);
  const v = walk(root === '$' ? input : context, segments);
  if (v === MISSING) throw new StatesError('States.Runtime', `The JSONPath '${path}' specified for the field '${field}' could not be found in the input '${JSON.stringify(input)}'`);
  return v as Json;
}

/** InputPath / OutputPath: null gives `{}`, absent keeps the value. */
export function selectPath(path: string | null | undefined, value: unknown, context: unknown, field: string): Json {
  if (path === undefined) return value as Json;
  if (path === null) return {};
  return readPath(path, value, context, field);
}

/** Parameters / ItemSelector / ResultSelector: a copy of `template` with `.$` fields evaluated. */
export function applyTemplate(template: unknown, input: unknown, context: unknown): Json {
  if (Array.isArray(template)) return template.map((t) => applyTemplate(t, input, context));
  if (template === null || typeof template !== 'object') return template as Json;
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(template)) {
    if (!k.endsWith('.$')) {
      out[k] = applyTemplate(v, input, context);
      continue;
    }
    const key = k.slice(0, -2);
    if (typeof v !== 'string') throw new StatesError('States.Runtime', `The value of field '${k}' must be a path or an intrinsic function`);
    out[key] = v.startsWith('States.') ? callIntrinsic(v, (p) => readPath(p, input, context, k)) : readPath(v, input, context, k);
  }
  return out;
}

/** ResultPath: absent replaces the input, null discards the result, a path writes it there (on a copy). */
export function writeResult(resultPath: string | null | undefined, input: unknown, result: unknown): Json {
  if (resultPath === undefined || resultPath === '$') return result as Json;
  if (resultPath === null) return input as Json;
  const { root, segments } = parsePath(resultPath);
  if (root !== '$') throw new StatesError('States.Runtime', `ResultPath '${resultPath}' cannot write the context object`);
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new StatesError('States.Runtime', `Unable to apply ResultPath '${resultPath}' to input '${JSON.stringify(input)}': it is not an object`);
  }
  const copy = structuredClone(input) as Record<string, unknown>;
  let cur: Record<string, unknown> = copy;
  segments.forEach((s, i) => {
    if (typeof s === 'number') throw new StatesError('States.Runtime', `ResultPath '${resultPath}' may not index an array`);
    if (i === segments.length - 1) {
      cur[s] = result;
      return;
    }
    const next = cur[s];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) cur[s] = {};
    cur = cur[s] as Record<string, unknown>;
  });
  return copy as Json;
}
