/**
 * The intrinsic functions of Amazon States Language that a payload template may call
 * (`'listed.$': 'States.MathAdd($.listed, $.step.list.listed)'`): arguments are paths, string
 * literals in single quotes, numbers, booleans, null or nested calls.
 */
import { randomUUID } from 'node:crypto';
import { StatesError } from './errors';
import type { Json } from './paths';

type Read = (path: string) => Json;

const runtime = (msg: string) => new StatesError('States.Runtime', msg);

class Parser {
  private i = 0;
  constructor(private readonly text: string, private readonly read: Read) {}

  parse(): Json {
    const v = this.value();
    this.space();
    if (this.i !== this.text.length) throw runtime(`Unexpected '${this.text.slice(this.i)}' in intrinsic function '${this.text}'`);
    return v;
  }

  private space(): void {
    while (this.text[this.i] === ' ') this.i++;
  }

  private value(): Json {
    this.space();
    const rest = this.text.slice(this.i);
    if (rest.startsWith("'")) return this.string();
    const call = /^(States\.[A-Za-z]+)\(/.exec(rest);
    if (call) {
      this.i += call[0].length;
      const args: Json[] = [];
      this.space();
      if (this.text[this.i] === ')') this.i++;
      else {
        for (;;) {
          args.push(this.value());
          this.space();
          const c = this.text[this.i++];
          if (c === ')') break;
          if (c !== ',') throw runtime(`Expected ',' or ')' in intrinsic function '${this.text}'`);
        }
      }
      return apply(call[1], args);
    }
    const token = /^[^,)\s]+/.exec(rest)?.[0];
    if (!token) throw runtime(`Missing argument in intrinsic function '${this.text}'`);
    this.i += token.length;
    if (token.startsWith('$')) return this.read(token);
    if (token === 'true' || token === 'false') return token === 'true';
    if (token === 'null') return null;
    const n = Number(token);
    if (Number.isNaN(n)) throw runtime(`Invalid argument '${token}' in intrinsic function '${this.text}'`);
    return n;
  }

  private string(): string {
    let out = '';
    this.i++;
    while (this.i < this.text.length) {
      const c = this.text[this.i++];
      if (c === '\\') out += this.text[this.i++];
      else if (c === "'") return out;
      else out += c;
    }
    throw runtime(`Unterminated string in intrinsic function '${this.text}'`);
  }
}

function numbers(name: string, args: Json[], count: number): number[] {
  if (args.length !== count || !args.every((a) => typeof a === 'number')) throw runtime(`${name} takes ${count} numbers`);
  return args as number[];
}

function apply(name: string, args: Json[]): Json {
  switch (name) {
    case 'States.MathAdd': {
      const [a, b] = numbers(name, args, 2);
      return a + b;
    }
    case 'States.ArrayLength':
      if (args.length !== 1 || !Array.isArray(args[0])) throw runtime(`${name} takes one array`);
      return args[0].length;
    case 'States.Array':
      return args;
    case 'States.ArrayGetItem': {
      const [arr, index] = args;
      if (!Array.isArray(arr) || typeof index !== 'number') throw runtime(`${name} takes an array and an index`);
      return arr[index] ?? null;
    }
    case 'States.Format': {
      const [template, ...values] = args;
      if (typeof template !== 'string') throw runtime(`${name} takes a template string first`);
      let k = 0;
      const out = template.replace(/\{\}/g, () => {
        if (k >= values.length) throw runtime(`${name}: more {} than arguments`);
        const v = values[k++];
        return typeof v === 'string' ? v : JSON.stringify(v);
      });
      if (k !== values.length) throw runtime(`${name}: more arguments than {}`);
      return out;
    }
    case 'States.StringToJson':
      if (typeof args[0] !== 'string') throw runtime(`${name} takes one string`);
      try {
        return JSON.parse(args[0]) as Json;
      } catch {
        throw runtime(`${name}: the argument is not JSON`);
      }
    case 'States.JsonToString':
      return JSON.stringify(args[0]);
    case 'States.UUID':
      return randomUUID();
    default:
      throw runtime(`The intrinsic function ${name} is not supported by the local runner`);
  }
}

/** Evaluates `expression` (`States.Name(args…)`), reading paths through `read`. */
export function callIntrinsic(expression: string, read: Read): Json {
  return new Parser(expression, read).parse();
}
