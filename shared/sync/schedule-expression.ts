/**
 * `sync_schedule` expressions in AWS EventBridge Scheduler syntax, parsed and evaluated in UTC:
 *
 * - `rate(N minute|minutes|hour|hours|day|days)`: N a positive integer, the unit singular exactly
 *   when N is 1 (as Scheduler requires);
 * - `cron(minutes hours day-of-month month day-of-week year)`: `*`, `,`, `-`, `/` in every field;
 *   `?` in exactly one of day-of-month and day-of-week; `L` (last day) and `NW` / `LW` (nearest
 *   weekday) in day-of-month; `L` (Saturday), `NL` (last N-day of the month) and `N#k` (k-th
 *   N-day) in day-of-week; months `JAN`-`DEC`, days `SUN`(1)-`SAT`(7); years 1970-2199.
 *
 * The minimum interval is one minute by construction: a rate's smallest unit is a minute and a
 * cron's finest field is minutes. A cron that never fires again (February 30, a past year) is
 * refused. The one evaluator `nextFire` serves validation and the local timer, so what is accepted
 * is what runs.
 */

/** A problem of an expression, worded for the `sync_schedule` field. */
export class ScheduleExpressionError extends Error {}

/** Scheduler's limit on ScheduleExpression. */
export const MAX_SCHEDULE_EXPRESSION_CHARS = 256;

const MINUTE_MS = 60_000;
const UNIT_MS = { minute: MINUTE_MS, hour: 60 * MINUTE_MS, day: 24 * 60 * MINUTE_MS } as const;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MAX_YEAR = 2199;

/** A rate: fires every `intervalMs`, counted from when the schedule was set. */
export interface RateSchedule {
  kind: 'rate';
  intervalMs: number;
}

/** Day-of-month rule: a set of days, the last day, or the weekday nearest a day. */
type DomRule = { any: true } | { days: Set<number> } | { last: true } | { nearestWeekday: number | 'last' };
/** Day-of-week rule (1 = Sunday): a set of days, the last N-day, or the k-th N-day of the month. */
type DowRule = { any: true } | { days: Set<number> } | { lastOf: number } | { nth: { day: number; k: number } };

/** A cron: the sets each field allows. */
export interface CronSchedule {
  kind: 'cron';
  minutes: number[];
  hours: number[];
  dom: DomRule;
  months: Set<number>;
  dow: DowRule;
  years: Set<number>;
}

export type ParsedSchedule = RateSchedule | CronSchedule;

const fail = (message: string): never => {
  throw new ScheduleExpressionError(message);
};

function parseRate(body: string): RateSchedule {
  const m = /^(\d+) (minute|minutes|hour|hours|day|days)$/.exec(body.trim());
  if (!m) fail('A rate must be rate(N minute|minutes|hour|hours|day|days), e.g. rate(5 minutes).');
  const n = Number(m![1]);
  const unit = m![2];
  if (!Number.isSafeInteger(n) || n < 1) fail('A rate must be at least 1: rate(0 …) never fires.');
  const singular = !unit.endsWith('s');
  if (n === 1 && !singular) fail(`Use the singular unit for 1: rate(1 ${unit.slice(0, -1)}).`);
  if (n > 1 && singular) fail(`Use the plural unit for ${n}: rate(${n} ${unit}s).`);
  if (n > 1_000_000) fail('A rate may be at most 1000000 units.');
  return { kind: 'rate', intervalMs: n * UNIT_MS[(singular ? unit : unit.slice(0, -1)) as keyof typeof UNIT_MS] };
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS = {
  minutes: { name: 'minutes', min: 0, max: 59 },
  hours: { name: 'hours', min: 0, max: 23 },
  dom: { name: 'day-of-month', min: 1, max: 31 },
  month: { name: 'month', min: 1, max: 12, names: MONTHS },
  dow: { name: 'day-of-week', min: 1, max: 7, names: DAYS },
  year: { name: 'year', min: 1970, max: MAX_YEAR },
} satisfies Record<string, FieldSpec>;

function valueOf(token: string, f: FieldSpec): number {
  const named = f.names?.indexOf(token.toUpperCase()) ?? -1;
  if (named >= 0) return named + 1;
  if (!/^\d+$/.test(token)) fail(`Invalid ${f.name} value "${token}"${f.names ? ` (use ${f.min}-${f.max} or ${f.names[0]}-${f.names[f.names.length - 1]})` : ` (use ${f.min}-${f.max})`}.`);
  const n = Number(token);
  if (n < f.min || n > f.max) fail(`${f.name} value ${n} is out of range ${f.min}-${f.max}.`);
  return n;
}

/** One field of `*`, `a`, `a-b`, `*\/s`, `a/s`, `a-b/s` items joined by `,`. */
function parseSet(text: string, f: FieldSpec): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined || range === '') fail(`Invalid ${f.name} item "${item}".`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [f.min, f.max];
    else if (range.includes('-')) {
      const [a, b, more] = range.split('-');
      if (more !== undefined) fail(`Invalid ${f.name} range "${range}".`);
      [lo, hi] = [valueOf(a, f), valueOf(b, f)];
      if (lo > hi) fail(`${f.name} range "${range}" runs backwards: write it from the smaller value.`);
    } else {
      lo = valueOf(range, f);
      hi = stepText === undefined ? lo : f.max;
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) fail(`Invalid ${f.name} step "/${stepText}": a positive integer is required.`);
      step = Number(stepText);
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function parseDom(text: string): DomRule {
  if (text === '?') return { any: true };
  if (text === 'L') return { last: true };
  if (text === 'LW') return { nearestWeekday: 'last' };
  const w = /^(\d+)W$/.exec(text);
  if (w) return { nearestWeekday: valueOf(w[1], FIELDS.dom) };
  if (/[LW#]/i.test(text)) fail(`Invalid day-of-month "${text}": L, LW and NW stand alone.`);
  return { days: parseSet(text, FIELDS.dom) };
}

function parseDow(text: string): DowRule {
  if (text === '?') return { any: true };
  if (text === 'L') return { days: new Set([7]) };
  const last = /^([A-Za-z]+|\d+)L$/.exec(text);
  if (last) return { lastOf: valueOf(last[1], FIELDS.dow) };
  const nth = /^([A-Za-z]+|\d+)#(\d+)$/.exec(text);
  if (nth) {
    const k = Number(nth[2]);
    if (k < 1 || k > 5) fail(`Invalid day-of-week "${text}": the number after # must be 1-5.`);
    return { nth: { day: valueOf(nth[1], FIELDS.dow), k } };
  }
  if (/[#L]/i.test(text)) fail(`Invalid day-of-week "${text}": L, NL and N#k stand alone.`);
  return { days: parseSet(text, FIELDS.dow) };
}

function parseCron(body: string): CronSchedule {
  const parts = body.trim().split(/\s+/);
  if (parts.length !== 6) fail(`A cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${parts.length}.`);
  const [min, hour, dom, month, dow, year] = parts;
  if ((dom === '?') === (dow === '?')) fail('Exactly one of day-of-month and day-of-week must be "?", e.g. cron(0 12 * * ? *).');
  for (const [text, f] of [[min, FIELDS.minutes], [hour, FIELDS.hours], [month, FIELDS.month], [year, FIELDS.year]] as const) {
    if (text === '?' || /[LW#]/.test(text.replace(/[A-Za-z]{3}/g, ''))) fail(`Invalid ${f.name} "${text}": ?, L, W and # belong to the day fields.`);
  }
  return {
    kind: 'cron',
    minutes: [...parseSet(min, FIELDS.minutes)].sort((a, b) => a - b),
    hours: [...parseSet(hour, FIELDS.hours)].sort((a, b) => a - b),
    dom: parseDom(dom),
    months: parseSet(month, FIELDS.month),
    dow: parseDow(dow),
    years: parseSet(year, FIELDS.year),
  };
}

/**
 * Parses an expression.
 * @throws ScheduleExpressionError naming the problem
 */
export function parseScheduleExpression(expr: string): ParsedSchedule {
  if (expr.length > MAX_SCHEDULE_EXPRESSION_CHARS) fail(`Ensure this field has no more than ${MAX_SCHEDULE_EXPRESSION_CHARS} characters.`);
  const m = /^\s*(rate|cron)\((.*)\)\s*$/.exec(expr);
  if (!m) fail('Expected rate(N unit) or cron(minutes hours day-of-month month day-of-week year); times are UTC.');
  return m![1] === 'rate' ? parseRate(m![2]) : parseCron(m![2]);
}

const daysIn = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate();
/** 1 = Sunday … 7 = Saturday. */
const weekday = (y: number, m: number, d: number) => new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 1;

function nearestWeekday(y: number, m: number, target: number): number {
  const dow = weekday(y, m, target);
  if (dow === 7) return target === 1 ? 3 : target - 1; // Saturday: Friday, or Monday when the 1st
  if (dow === 1) return target === daysIn(y, m) ? target - 2 : target + 1; // Sunday: Monday, or Friday when the last
  return target;
}

function domMatches(rule: DomRule, y: number, m: number, d: number): boolean {
  if ('any' in rule) return true;
  if ('days' in rule) return rule.days.has(d);
  if ('last' in rule) return d === daysIn(y, m);
  const target = rule.nearestWeekday === 'last' ? daysIn(y, m) : rule.nearestWeekday;
  return target <= daysIn(y, m) && nearestWeekday(y, m, target) === d;
}

function dowMatches(rule: DowRule, y: number, m: number, d: number): boolean {
  if ('any' in rule) return true;
  const dow = weekday(y, m, d);
  if ('days' in rule) return rule.days.has(dow);
  if ('lastOf' in rule) return dow === rule.lastOf && d + 7 > daysIn(y, m);
  return dow === rule.nth.day && Math.ceil(d / 7) === rule.nth.k;
}

/** First minute of a cron at or after `from` (whole minute, UTC), or undefined before MAX_YEAR ends. */
function cronAtOrAfter(c: CronSchedule, from: Date): Date | undefined {
  const [fy, fm, fd, fh, fmin] = [from.getUTCFullYear(), from.getUTCMonth() + 1, from.getUTCDate(), from.getUTCHours(), from.getUTCMinutes()];
  for (let y = fy; y <= MAX_YEAR; y++) {
    if (!c.years.has(y)) continue;
    for (let m = y === fy ? fm : 1; m <= 12; m++) {
      if (!c.months.has(m)) continue;
      const firstMonth = y === fy && m === fm;
      for (let d = firstMonth ? fd : 1; d <= daysIn(y, m); d++) {
        if (!domMatches(c.dom, y, m, d) || !dowMatches(c.dow, y, m, d)) continue;
        const firstDay = firstMonth && d === fd;
        for (const h of c.hours) {
          if (firstDay && h < fh) continue;
          const minute = c.minutes.find((x) => !(firstDay && h === fh && x < fmin));
          if (minute !== undefined) return new Date(Date.UTC(y, m - 1, d, h, minute));
        }
      }
    }
  }
  return undefined;
}

/**
 * When the schedule fires next, strictly after `after`. A rate fires `interval` after `after`
 * (pass the previous fire time, or when the schedule was set); a cron at its next matching minute.
 * @throws ScheduleExpressionError for an invalid expression, or a cron that never fires after `after`
 */
export function nextFire(expr: string | ParsedSchedule, after: Date): Date {
  const s = typeof expr === 'string' ? parseScheduleExpression(expr) : expr;
  if (s.kind === 'rate') return new Date(after.getTime() + s.intervalMs);
  const from = new Date(Math.floor(after.getTime() / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
  return cronAtOrAfter(s, from) ?? fail(`This cron never fires after ${after.toISOString()} (e.g. a date that does not exist, or a past year).`);
}

/**
 * The problem of `expr` as a `sync_schedule` value, or undefined when it is valid and fires again
 * after `now`.
 */
export function scheduleExpressionProblem(expr: string, now = new Date()): string | undefined {
  try {
    nextFire(expr, now);
    return undefined;
  } catch (e) {
    if (e instanceof ScheduleExpressionError) return e.message;
    throw e;
  }
}
