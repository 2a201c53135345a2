/**
 * `sync_schedule` expressions: EventBridge Scheduler's rate and cron syntax, evaluated in UTC by
 * the one `nextFire` that validation and the local timer share. Examples from Scheduler's
 * documentation, every refusal with its message, and properties against a brute-force matcher.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nextFire, parseScheduleExpression, scheduleExpressionProblem } from '../../shared/sync/schedule-expression';

const at = (iso: string) => new Date(iso);
const next = (expr: string, after: string) => nextFire(expr, at(after)).toISOString();

describe('schedule expressions: rate', () => {
  it('fires one interval after the given time, for each unit', () => {
    expect(next('rate(1 minute)', '2026-01-01T00:00:30.000Z')).toBe('2026-01-01T00:01:30.000Z');
    expect(next('rate(5 minutes)', '2026-01-01T00:00:00.000Z')).toBe('2026-01-01T00:05:00.000Z');
    expect(next('rate(1 hour)', '2026-01-01T00:00:00.000Z')).toBe('2026-01-01T01:00:00.000Z');
    expect(next('rate(12 hours)', '2026-01-01T00:00:00.000Z')).toBe('2026-01-01T12:00:00.000Z');
    expect(next('rate(1 day)', '2026-02-28T06:00:00.000Z')).toBe('2026-03-01T06:00:00.000Z');
    expect(next('rate(7 days)', '2026-01-01T00:00:00.000Z')).toBe('2026-01-08T00:00:00.000Z');
  });

  it.each([
    ['rate(0 minutes)', 'at least 1'],
    ['rate(1 minutes)', 'singular'],
    ['rate(5 minute)', 'plural'],
    ['rate(5 seconds)', 'rate(N minute|minutes'],
    ['rate(-1 minutes)', 'rate(N minute|minutes'],
    ['rate(1.5 hours)', 'rate(N minute|minutes'],
    ['rate(5)', 'rate(N minute|minutes'],
  ])('refuses %s naming the problem', (expr, message) => {
    expect(scheduleExpressionProblem(expr)).toContain(message);
  });
});

describe('schedule expressions: cron (UTC)', () => {
  it.each([
    // Scheduler documentation examples.
    ['cron(0 10 * * ? *)', '2026-03-04T10:00:00.000Z', '2026-03-05T10:00:00.000Z'],
    ['cron(15 12 * * ? *)', '2026-03-04T11:00:00.000Z', '2026-03-04T12:15:00.000Z'],
    ['cron(0 18 ? * MON-FRI *)', '2026-03-06T18:00:00.000Z', '2026-03-09T18:00:00.000Z'], // Friday → Monday
    ['cron(0 8 1 * ? *)', '2026-03-01T08:00:00.000Z', '2026-04-01T08:00:00.000Z'],
    ['cron(0/15 * * * ? *)', '2026-03-04T10:07:00.000Z', '2026-03-04T10:15:00.000Z'],
    ['cron(0/10 * ? * MON-FRI *)', '2026-03-07T00:00:00.000Z', '2026-03-09T00:00:00.000Z'], // Saturday → Monday
    ['cron(0/5 8-17 ? * MON-FRI *)', '2026-03-04T17:55:00.000Z', '2026-03-05T08:00:00.000Z'],
    ['cron(0 9 ? * 2#1 *)', '2026-03-04T00:00:00.000Z', '2026-04-06T09:00:00.000Z'], // first Monday of April
    ['cron(0 0 L * ? *)', '2026-02-01T00:00:00.000Z', '2026-02-28T00:00:00.000Z'],
    ['cron(0 0 L * ? *)', '2028-02-01T00:00:00.000Z', '2028-02-29T00:00:00.000Z'], // leap year
    ['cron(0 0 15W * ? *)', '2026-08-01T00:00:00.000Z', '2026-08-14T00:00:00.000Z'], // 15th is a Saturday → Friday 14th
    ['cron(0 0 1W * ? *)', '2026-07-31T00:00:00.000Z', '2026-08-03T00:00:00.000Z'], // 1st is a Saturday → Monday 3rd
    ['cron(0 0 LW * ? *)', '2026-05-01T00:00:00.000Z', '2026-05-29T00:00:00.000Z'], // 31st is a Sunday → Friday 29th
    ['cron(30 6 ? * 5L *)', '2026-03-01T00:00:00.000Z', '2026-03-26T06:30:00.000Z'], // last Thursday
    ['cron(0 12 ? * L *)', '2026-03-04T00:00:00.000Z', '2026-03-07T12:00:00.000Z'], // L alone: Saturday
    ['cron(0 0 1 JAN,jul ? *)', '2026-02-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z'],
    ['cron(0 0 29 2 ? *)', '2026-03-01T00:00:00.000Z', '2028-02-29T00:00:00.000Z'],
    ['cron(5,10,20-22 3 * * ? 2027)', '2026-12-31T23:59:00.000Z', '2027-01-01T03:05:00.000Z'],
    ['cron(* * * * ? *)', '2026-03-04T10:00:59.999Z', '2026-03-04T10:01:00.000Z'],
  ])('%s after %s fires at %s', (expr, after, expected) => {
    expect(next(expr, after)).toBe(expected);
  });

  it('fires strictly after the given time, even on a matching minute', () => {
    expect(next('cron(0 10 * * ? *)', '2026-03-04T09:59:59.000Z')).toBe('2026-03-04T10:00:00.000Z');
    expect(next('cron(0 10 * * ? *)', '2026-03-04T10:00:00.000Z')).toBe('2026-03-05T10:00:00.000Z');
  });

  it.each([
    ['cron(0 10 * * *)', '6 fields'],
    ['cron(0 10 * * ? * *)', '6 fields'],
    ['cron(0 10 * * * *)', 'Exactly one of day-of-month and day-of-week'],
    ['cron(0 10 ? * ? *)', 'Exactly one of day-of-month and day-of-week'],
    ['cron(60 10 * * ? *)', 'minutes value 60 is out of range 0-59'],
    ['cron(0 24 * * ? *)', 'hours value 24 is out of range 0-23'],
    ['cron(0 0 0 * ? *)', 'day-of-month value 0 is out of range 1-31'],
    ['cron(0 0 1 13 ? *)', 'month value 13 is out of range 1-12'],
    ['cron(0 0 ? * 8 *)', 'day-of-week value 8 is out of range 1-7'],
    ['cron(0 0 ? * FUNDAY *)', 'Invalid day-of-week value "FUNDAY"'],
    ['cron(0 0 1 * ? 1969)', 'year value 1969 is out of range 1970-2199'],
    ['cron(30-10 * * * ? *)', 'runs backwards'],
    ['cron(0/0 * * * ? *)', 'step'],
    ['cron(0/x * * * ? *)', 'step'],
    ['cron(0 ? * * ? *)', 'belong to the day fields'],
    ['cron(0 L * * ? *)', 'belong to the day fields'],
    ['cron(0 0 ? * 2#6 *)', '1-5'],
    ['cron(0 0 1,L * ? *)', 'stand alone'],
    ['cron(0 0 ? * 1,2#1 *)', 'stand alone'],
    ['cron(0 0 30 2 ? *)', 'never fires'],
    ['cron(0 0 1 1 ? 2020)', 'never fires'],
    ['every 5 minutes', 'Expected rate(N unit) or cron('],
    ['at(2026-01-01T00:00:00)', 'Expected rate(N unit) or cron('],
    [`cron(0 0 * * ? ${'1,'.repeat(130)}2026)`, 'no more than 256 characters'],
  ])('refuses %s naming the problem', (expr, message) => {
    expect(scheduleExpressionProblem(expr, at('2026-03-04T00:00:00Z'))).toContain(message);
  });

  it('accepts every field syntax the documentation lists', () => {
    for (const expr of ['cron(0 0 ? * SUN-SAT *)', 'cron(0 */2 * * ? *)', 'cron(0 0 1-7 * ? *)', 'cron(0 0 ? * MON#2 *)', 'cron(0 0 ? * FRIL *)', 'cron(0 0 1 1-12/3 ? 2026-2030)']) {
      expect(scheduleExpressionProblem(expr, at('2026-03-04T00:00:00Z')), expr).toBeUndefined();
    }
  });
});

/** Whether a whole-minute instant matches a cron built only of `*`, numbers, ranges and steps. */
function matchesBrute(fields: { minute: number[]; hour: number[]; dom?: number[]; dow?: number[] }, t: Date): boolean {
  const dayOk = fields.dom ? fields.dom.includes(t.getUTCDate()) : fields.dow!.includes(t.getUTCDay() + 1);
  return fields.minute.includes(t.getUTCMinutes()) && fields.hour.includes(t.getUTCHours()) && dayOk;
}

describe('schedule expressions: properties', () => {
  // `starMax`: what `*` covers (day-of-month: 31, while lists stay on days every month has).
  const setOf = (min: number, max: number, starMax = max) =>
    fc.oneof(
      fc.constant({ text: '*', values: Array.from({ length: starMax - min + 1 }, (_, i) => min + i) }),
      fc.uniqueArray(fc.integer({ min, max }), { minLength: 1, maxLength: 4 }).map((vs) => ({ text: vs.join(','), values: vs })),
      fc.tuple(fc.integer({ min, max }), fc.integer({ min: 1, max: 20 })).map(([start, step]) => {
        const values: number[] = [];
        // A step runs to the end of the field (day-of-month: 31), as in cron.
        for (let v = start; v <= starMax; v += step) values.push(v);
        return { text: `${start}/${step}`, values };
      }),
    );
  const cron = fc.record({ minute: setOf(0, 59), hour: setOf(0, 23), day: fc.oneof(setOf(1, 28, 31).map((s) => ({ dom: s })), setOf(1, 7).map((s) => ({ dow: s }))) });
  const instant = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2150-12-31T00:00:00Z'), noInvalidDate: true });

  it('nextFire is the first matching minute strictly after the given time', () => {
    fc.assert(
      fc.property(cron, instant, (c, after) => {
        const dom = 'dom' in c.day ? c.day.dom : undefined;
        const dow = 'dow' in c.day ? c.day.dow : undefined;
        const expr = `cron(${c.minute.text} ${c.hour.text} ${dom ? dom.text : '?'} * ${dow ? dow.text : '?'} *)`;
        const fields = { minute: c.minute.values, hour: c.hour.values, dom: dom?.values, dow: dow?.values };
        const fired = nextFire(expr, after);
        expect(fired.getTime()).toBeGreaterThan(after.getTime());
        expect(fired.getUTCSeconds() + fired.getUTCMilliseconds()).toBe(0);
        expect(matchesBrute(fields, fired), `${expr} at ${fired.toISOString()}`).toBe(true);
        // No earlier match: walk back minute by minute (days 1-28 and every weekday recur within 31 days).
        for (let t = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000; t < fired.getTime(); t += 60_000) {
          if (matchesBrute(fields, new Date(t))) throw new Error(`${expr}: ${new Date(t).toISOString()} matches before ${fired.toISOString()}`);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a rate fires exactly N units later, and N = 0 or a wrong plural is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), fc.constantFrom('minute', 'hour', 'day'), fc.boolean(), instant, (n, unit, plural, after) => {
        const expr = `rate(${n} ${unit}${plural ? 's' : ''})`;
        const valid = n >= 1 && plural === n > 1;
        expect(scheduleExpressionProblem(expr, after) === undefined).toBe(valid);
        if (valid) expect(nextFire(expr, after).getTime() - after.getTime()).toBe(n * { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[unit]);
      }),
    );
  });

  it('never throws anything but a schedule problem on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => `cron(${s})`), fc.string().map((s) => `rate(${s})`)), (s) => {
        const problem = scheduleExpressionProblem(s);
        if (problem === undefined) expect(() => parseScheduleExpression(s)).not.toThrow();
        else expect(typeof problem).toBe('string');
      }),
    );
  });
});
