/**
 * Where every event is also put: the EventBridge bus LABELSYNC_EVENT_BUS_NAME (source `labelsync`,
 * detail-type from the action, see actions.ts) in AWS; locally, without a bus, one JSON line per
 * event appended to `<LABELSYNC_DATA_DIR>/events.jsonl`, or nowhere without a data directory.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { BusEvent, EventBus } from './types';

export const EVENT_SOURCE = 'labelsync';
export const LOCAL_EVENTS_FILE = 'events.jsonl';

/** EventBridge PutEvents (ten entries a call, one timeout per call). */
export class EventBridgeBus implements EventBus {
  constructor(
    private readonly client: () => Promise<EventBridgeClient>,
    private readonly busName: string,
  ) {}

  async put(events: BusEvent[]): Promise<void> {
    const { PutEventsCommand } = await import('@aws-sdk/client-eventbridge');
    const client = await this.client();
    for (let i = 0; i < events.length; i += 10) {
      const Entries = events.slice(i, i + 10).map((e) => ({ EventBusName: this.busName, Source: EVENT_SOURCE, DetailType: e.detailType, Detail: JSON.stringify(e.detail), Time: e.time }));
      const res = await client.send(new PutEventsCommand({ Entries }), { abortSignal: AbortSignal.timeout(5_000) });
      if (res.FailedEntryCount) throw new Error(`EventBridge refused ${res.FailedEntryCount} events: ${res.Entries?.find((x) => x.ErrorCode)?.ErrorCode ?? ''}`);
    }
  }
}

/** The local stand-in: JSON lines `{"source","detail-type","time","detail"}` in a file. */
export class JsonlEventBus implements EventBus {
  constructor(readonly file: string) {}
  async put(events: BusEvent[]): Promise<void> {
    const lines = events.map((e) => JSON.stringify({ source: EVENT_SOURCE, 'detail-type': e.detailType, time: e.time.toISOString(), detail: e.detail }) + '\n');
    // The data directory may not exist yet (a fresh `npm start` creates it lazily).
    await mkdir(dirname(this.file), { recursive: true });
    await appendFile(this.file, lines.join(''));
  }
}

export const NO_EVENT_BUS: EventBus = { put: async () => {} };

/** The local bus of a data directory (or none). */
export function localEventBus(dataDir: string | undefined): EventBus {
  return dataDir ? new JsonlEventBus(join(dataDir, LOCAL_EVENTS_FILE)) : NO_EVENT_BUS;
}
