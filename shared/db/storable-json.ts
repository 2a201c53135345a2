/**
 * What a JSON value (task data, meta, annotation results, predictions) must avoid to be stored as
 * a DynamoDB attribute through the document client, checked before anything is written so that
 * one bad value fails its own row or request (a 400, a per-object sync failure), never a batch.
 */

/** DynamoDB's number range (magnitude) and the SDK's exact round-trip limit for JS numbers. */
const MIN_STORABLE_MAGNITUDE = 1e-130;
const MAX_STORABLE_MAGNITUDE = Number.MAX_SAFE_INTEGER;

function numberProblem(v: number): string | undefined {
  const a = Math.abs(v);
  if (!Number.isFinite(v) || a > MAX_STORABLE_MAGNITUDE || (a !== 0 && a < MIN_STORABLE_MAGNITUDE)) {
    return `Number ${v} cannot be stored: use numbers within ±${MAX_STORABLE_MAGNITUDE} (or a string).`;
  }
  return undefined;
}

/**
 * The SDK's marshaller builds maps with `map[key] = …`, so a `__proto__` key (an own property
 * after JSON.parse) would be dropped or replace the map's prototype; and it picks a value's type
 * by `value.constructor.name`, so an object under `constructor` can turn its parent into a Set,
 * Map, boolean, number or string attribute. Other values of `constructor`, and `prototype`, are
 * ordinary keys.
 */
function keyProblem(key: string, value: unknown): string | undefined {
  if (key === '') return 'Object keys must not be empty.';
  if (key === '__proto__') return 'Object keys must not be "__proto__".';
  if (key === 'constructor' && value !== null && typeof value === 'object' && !Array.isArray(value)) return 'A "constructor" key must not hold an object.';
  return undefined;
}

/**
 * Why a JSON value cannot be stored, or undefined when it can: empty object keys (DynamoDB
 * refuses empty attribute names, also nested), the prototype keys above, and numbers outside
 * ±2^53 or closer to zero than 1e-130 (the SDK refuses to marshal unsafe integers and DynamoDB
 * refuses underflow). Iterative, so depth is no concern here.
 */
export function storableJsonProblem(value: unknown): string | undefined {
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'number') {
      const p = numberProblem(v);
      if (p) return p;
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const p = keyProblem(k, x);
        if (p) return p;
        stack.push(x);
      }
    }
  }
  return undefined;
}
