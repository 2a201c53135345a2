/**
 * Object bytes → task rows, for "Tasks" mode (`use_blob_urls=false`).
 *
 * Formats (Label Studio's, with per-row failure instead of its whole-sync failure):
 * - `.jsonl` / `.ndjson` keys: one task per non-empty line (`row_index` 0,1,2… over non-empty lines);
 * - first non-whitespace byte `[`: a JSON array split element by element while the bytes stream in
 *   (never one `JSON.parse` of the whole array), `row_index` = element position;
 * - first non-whitespace byte `{`: one task (`row_index` null) when the whole body is one JSON
 *   object, else JSON Lines (Label Studio's fallback);
 * - anything else: the file fails with Label Studio's message.
 * A row that is valid JSON but not a valid task, or a JSONL line that does not parse or is too long,
 * fails alone (`ParsedRow.error`); structural problems fail the whole file (`TaskFileError`).
 * Failure messages never quote object bytes (they end up in `meta.failures` and tracebacks).
 */
import { storableJsonProblem } from '../db/storable-json';
import { jsonDepth, MAX_STORED_JSON_DEPTH } from '../http/limits';
import type { Readable } from 'node:stream';

/** One task as found in a file: data plus the wrapper's optional siblings. */
export interface ParsedTask {
  data: Record<string, unknown>;
  annotations?: Record<string, unknown>[];
  predictions?: Record<string, unknown>[];
  allow_skip?: boolean;
}

/** One row of a task file: a task, or the reason it could not become one. */
export interface ParsedRow {
  /** null for a file holding one JSON object; element/line position otherwise. */
  row_index: number | null;
  task?: ParsedTask;
  error?: string;
}

/** The whole file cannot be read as tasks (its rows, if any, are discarded). */
export class TaskFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskFileError';
  }
}

export interface ParseLimits {
  /** Longest accepted JSONL line in bytes (longer lines fail alone). */
  maxLineBytes: number;
  /** Largest accepted task (serialised JSON bytes); DynamoDB's 400 KB item cap sits above it. */
  maxTaskBytes: number;
}

/** Defaults: a JSONL line may be 1 MiB; a task must fit a DynamoDB item with room for its fields. */
export const DEFAULT_PARSE_LIMITS: ParseLimits = { maxLineBytes: 1024 * 1024, maxTaskBytes: 350 * 1024 };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** True for keys read as JSON Lines whatever their first byte. */
export function isJsonLinesKey(key: string): boolean {
  return /\.(jsonl|ndjson)$/i.test(key);
}

/**
 * Turns one parsed element into a task: `{data: {...}, annotations?, predictions?,
 * allow_skip?}` is a wrapper, anything else an object of data.
 * Returns the reason as a string when the element cannot be a task.
 */
export function elementToTask(value: unknown, limits: ParseLimits = DEFAULT_PARSE_LIMITS): ParsedTask | string {
  if (!isPlainObject(value)) return `a task must be a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`;
  let task: ParsedTask;
  if (isPlainObject(value.data)) {
    task = { data: value.data };
    for (const field of ['annotations', 'predictions'] as const) {
      const list = value[field];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list) || !list.every(isPlainObject)) return `"${field}" must be a list of objects`;
      task[field] = list as Record<string, unknown>[];
    }
    if (value.allow_skip !== undefined) {
      if (typeof value.allow_skip !== 'boolean') return '"allow_skip" must be a boolean';
      task.allow_skip = value.allow_skip;
    }
  } else if ('annotations' in value || 'predictions' in value) {
    return 'If you use "annotations" field in the task, you must put "data" field in the task too';
  } else {
    task = { data: value };
  }
  // DynamoDB refuses values nested deeper than 32 levels; one such task would fail its whole batch.
  if (jsonDepth(task, MAX_STORED_JSON_DEPTH) > MAX_STORED_JSON_DEPTH) return `task is nested deeper than ${MAX_STORED_JSON_DEPTH} levels`;
  // Checked per row: one unstorable value would fail the batch write of its whole chunk.
  const unstorable = storableJsonProblem(task);
  if (unstorable) return unstorable;
  const size = Buffer.byteLength(JSON.stringify(task));
  if (size > limits.maxTaskBytes) return `task is ${size} bytes, over the ${limits.maxTaskBytes}-byte limit of one task`;
  return task;
}

/**
 * JSON.parse's reason without the input: V8 quotes the offending token and the text around it
 * (`Unexpected token 'x', "…" is not valid JSON`); its positional messages quote nothing.
 */
export function jsonSyntaxReason(e: unknown): string {
  const message = e instanceof Error ? e.message : '';
  const position = /at position (\d+)/.exec(message)?.[1];
  let kind = message.replace(/\s*(in JSON )?at position \d+[\s\S]*$/, '');
  if (kind.startsWith('Unexpected token')) kind = 'Unexpected token';
  else if (kind.includes('"') || !kind) kind = 'syntax error';
  return position === undefined ? kind : `${kind} at position ${position}`;
}

function rowFromText(text: string, row: number | null, limits: ParseLimits): ParsedRow {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { row_index: row, error: `${row === null ? '' : `row ${row}: `}not valid JSON (${jsonSyntaxReason(e)})` };
  }
  const t = elementToTask(value, limits);
  return typeof t === 'string' ? { row_index: row, error: row === null ? t : `row ${row}: ${t}` } : { row_index: row, task: t };
}

const notJson = (key: string) =>
  `Can't import JSON-formatted tasks from ${key}. If you're trying to import binary objects, perhaps you forgot to enable "Tasks" import method?`;

/**
 * Incremental splitter of a top-level JSON array into element texts. Tracks strings and nesting
 * only; each element is then parsed on its own.
 */
class ArraySplitter {
  private depth = 0; // 0 before '[', 1 inside the array, >1 inside an element
  private inString = false;
  private escaped = false;
  private closed = false;
  private parts: string[] = [];
  private partsBytes = 0;
  private elementHasContent = false;
  readonly out: string[] = [];

  constructor(private readonly maxElementChars: number) {}

  push(s: string): void {
    let start = 0; // start of the element text within s still to be copied into parts
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (this.closed) {
        if (!isWs(c)) throw new TaskFileError('unexpected data after the end of the JSON array');
        continue;
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) this.inString = false;
        continue;
      }
      if (this.depth === 0) {
        if (c === 0x5b) {
          this.depth = 1;
          start = i + 1;
        } else if (!isWs(c)) throw new TaskFileError('expected a JSON array');
        continue;
      }
      if (this.depth === 1 && (c === 0x2c || c === 0x5d)) {
        this.take(s.slice(start, i));
        const text = this.parts.join('');
        this.parts = [];
        this.partsBytes = 0;
        if (text.trim()) this.out.push(text);
        else if (c === 0x2c || this.out.length > 0 || this.elementHasContent) {
          throw new TaskFileError('empty element in the JSON array');
        }
        this.elementHasContent = c === 0x2c;
        if (c === 0x5d) this.closed = true;
        start = i + 1;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x5b || c === 0x7b) this.depth++;
      else if (c === 0x5d || c === 0x7d) this.depth--;
    }
    if (!this.closed && this.depth >= 1) this.take(s.slice(start));
  }

  private take(piece: string): void {
    if (!piece) return;
    this.parts.push(piece);
    this.partsBytes += piece.length;
    if (this.partsBytes > this.maxElementChars) throw new TaskFileError(`an array element is over ${this.maxElementChars} characters`);
  }

  end(): void {
    if (!this.closed) throw new TaskFileError('the JSON array is not closed (truncated file?)');
  }
}

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff;

/**
 * Splits bytes into JSONL rows. Lines over `maxLineBytes` fail alone and are skipped without
 * being buffered.
 */
class LineSplitter {
  private parts: string[] = [];
  private length = 0;
  private tooLong = false;
  private row = 0;
  readonly out: ParsedRow[] = [];

  constructor(private readonly limits: ParseLimits) {}

  push(s: string): void {
    let from = 0;
    for (let nl = s.indexOf('\n', from); nl !== -1; nl = s.indexOf('\n', from)) {
      this.append(s.slice(from, nl));
      this.finishLine();
      from = nl + 1;
    }
    this.append(s.slice(from));
  }

  private append(piece: string): void {
    if (this.tooLong || !piece) return;
    this.length += piece.length;
    if (this.length > this.limits.maxLineBytes) {
      this.tooLong = true;
      this.parts = [];
      return;
    }
    this.parts.push(piece);
  }

  private finishLine(): void {
    if (this.tooLong) {
      this.out.push({ row_index: this.row++, error: `row ${this.row - 1}: line is longer than ${this.limits.maxLineBytes} bytes` });
    } else {
      const line = this.parts.join('').trim();
      if (line) this.out.push(rowFromText(line, this.row++, this.limits));
    }
    this.parts = [];
    this.length = 0;
    this.tooLong = false;
  }

  end(): void {
    this.finishLine();
  }
}

/**
 * Parses one task file from its byte stream.
 * @returns every row in order (valid tasks and per-row failures)
 * @throws TaskFileError when the file as a whole cannot be read as tasks (the reason is readable)
 */
export async function parseTaskFile(
  key: string,
  body: AsyncIterable<Buffer | string> | Readable,
  limits: ParseLimits = DEFAULT_PARSE_LIMITS,
): Promise<ParsedRow[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const jsonl = isJsonLinesKey(key);
  let mode: 'detect' | 'array' | 'object' | 'lines' = jsonl ? 'lines' : 'detect';
  const lines = new LineSplitter(limits);
  const array = new ArraySplitter(limits.maxLineBytes * 4);
  const whole: string[] = [];

  const feed = (s: string) => {
    if (mode === 'detect') {
      const m = /[^\s\ufeff]/.exec(s);
      if (!m) return; // still only whitespace
      if (m[0] === '[') mode = 'array';
      else if (m[0] === '{') mode = 'object';
      else throw new TaskFileError(notJson(key));
    }
    if (mode === 'lines') lines.push(s);
    else if (mode === 'array') array.push(s);
    else whole.push(s);
  };

  try {
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    }
    feed(decoder.decode());
  } catch (e) {
    if (e instanceof TaskFileError) throw e;
    if (e instanceof TypeError && /encoded data|decode/i.test(e.message)) {
      throw new TaskFileError(`Error loading JSON from file "${key}": the file is not valid UTF-8`);
    }
    throw e;
  }

  switch (mode as 'detect' | 'array' | 'object' | 'lines') {
    case 'detect':
      if (jsonl) return [];
      throw new TaskFileError(notJson(key));
    case 'lines':
      lines.end();
      return lines.out;
    case 'array':
      array.end();
      return array.out.map((text, i) => rowFromText(text, i, limits));
    case 'object': {
      const text = whole.join('');
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        // Not one object: Label Studio reads such a body as JSON Lines.
        const l = new LineSplitter(limits);
        l.push(text);
        l.end();
        return l.out;
      }
      const t = elementToTask(value, limits);
      return [typeof t === 'string' ? { row_index: null, error: t } : { row_index: null, task: t }];
    }
  }
}
