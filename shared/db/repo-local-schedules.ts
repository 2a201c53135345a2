/**
 * The schedules of `npm start`'s sync timer (local/sync-schedule-timer.ts): one item per scheduled
 * storage in one partition (`LOCALSCHEDULE`), so a restart finds every schedule with one streamed
 * Query instead of scanning storages. In AWS EventBridge Scheduler keeps them; nothing here is
 * written there.
 */
import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { pad } from './keys';
import { queryPages, type Db } from './repo-common';

const PK = 'LOCALSCHEDULE';
const key = (storageId: number) => ({ pk: PK, sk: `STORAGE#${pad(storageId)}` });

export interface LocalScheduleItem {
  storageId: number;
  expression: string;
  /** ISO time the schedule was set (a rate counts its intervals from it). */
  set_at: string;
}

/** Creates or replaces the schedule of a storage. */
export async function putLocalSchedule(db: Db, s: LocalScheduleItem): Promise<void> {
  await db.doc.send(new PutCommand({ TableName: db.table, Item: { ...key(s.storageId), kind: 'localSchedule', ...s } }));
}

/** Removes the schedule of a storage (none is no error). */
export async function deleteLocalSchedule(db: Db, storageId: number): Promise<void> {
  await db.doc.send(new DeleteCommand({ TableName: db.table, Key: key(storageId) }));
}

/** Every stored schedule, page by page. */
export async function* listLocalSchedules(db: Db): AsyncGenerator<LocalScheduleItem> {
  for await (const page of queryPages(db, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': PK } })) {
    for (const it of page.items) yield { storageId: Number(it.storageId), expression: String(it.expression), set_at: String(it.set_at) };
  }
}
