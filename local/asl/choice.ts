/**
 * Choice rules: And / Or / Not, and `Variable` compared by one operator (StringEquals,
 * NumericLessThanPath, BooleanEquals, IsPresent, IsNull, StringMatches, ...). A Variable that
 * names nothing is a States.Runtime error except under IsPresent, as in Step Functions.
 */
import { StatesError } from './errors';
import { hasPath, readPath, type Json } from './paths';

export type ChoiceRule = Record<string, unknown>;

const COMPARISON = /^(String|Numeric|Boolean|Timestamp)(Equals|LessThan|GreaterThan|LessThanEquals|GreaterThanEquals)(Path)?$/;

function compare(kind: string, op: string, a: Json, b: Json): boolean {
  const typeOk =
    kind === 'String' || kind === 'Timestamp' ? typeof a === 'string' && typeof b === 'string' : kind === 'Numeric' ? typeof a === 'number' && typeof b === 'number' : typeof a === 'boolean' && typeof b === 'boolean';
  // A value of another type compares false (Step Functions does not convert).
  if (!typeOk) return false;
  const x = kind === 'Timestamp' ? Date.parse(a as string) : (a as number | string | boolean);
  const y = kind === 'Timestamp' ? Date.parse(b as string) : (b as number | string | boolean);
  switch (op) {
    case 'Equals':
      return x === y;
    case 'LessThan':
      return x < y;
    case 'GreaterThan':
      return x > y;
    case 'LessThanEquals':
      return x <= y;
    default:
      return x >= y;
  }
}

/** Step Functions' StringMatches: `*` any run of characters, `\*` and `\\` literal. */
function wildcard(pattern: string, value: string): boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) re += pattern[++i].replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    else if (c === '*') re += '[\\s\\S]*';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`).test(value);
}

/** Whether `rule` holds for `input`. */
export function evaluateRule(rule: ChoiceRule, input: unknown, context: unknown): boolean {
  if (Array.isArray(rule.And)) return (rule.And as ChoiceRule[]).every((r) => evaluateRule(r, input, context));
  if (Array.isArray(rule.Or)) return (rule.Or as ChoiceRule[]).some((r) => evaluateRule(r, input, context));
  if (rule.Not) return !evaluateRule(rule.Not as ChoiceRule, input, context);
  const variable = rule.Variable;
  if (typeof variable !== 'string') throw new StatesError('States.Runtime', `Choice rule without Variable: ${JSON.stringify(rule)}`);
  const op = Object.keys(rule).find((k) => k !== 'Variable' && k !== 'Next');
  if (!op) throw new StatesError('States.Runtime', `Choice rule without an operator: ${JSON.stringify(rule)}`);
  const expected = rule[op];
  if (op === 'IsPresent') return hasPath(variable, input, context) === expected;
  const value = readPath(variable, input, context, 'Variable');
  switch (op) {
    case 'IsNull':
      return (value === null) === expected;
    case 'IsString':
      return (typeof value === 'string') === expected;
    case 'IsNumeric':
      return (typeof value === 'number') === expected;
    case 'IsBoolean':
      return (typeof value === 'boolean') === expected;
    case 'IsTimestamp':
      return (typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value)) === expected;
    case 'StringMatches':
      return typeof value === 'string' && wildcard(String(expected), value);
  }
  const m = COMPARISON.exec(op);
  if (!m) throw new StatesError('States.Runtime', `Unsupported Choice operator ${op}`);
  const other = m[3] ? readPath(String(expected), input, context, op) : (expected as Json);
  return compare(m[1], m[2], value, other);
}
