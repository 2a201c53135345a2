/**
 * Reading a range of records back from a DynamoDB stream shard (the records of a failed batch of
 * the export mapping, while the stream still retains them: 24 h).
 */
import { GetRecordsCommand, GetShardIteratorCommand, type DynamoDBStreamsClient, type _Record } from '@aws-sdk/client-dynamodb-streams';

/** A shard and an inclusive range of sequence numbers in it. */
export interface StreamRange {
  streamArn: string;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
}

/** Errors meaning the stream no longer holds the range. */
const EXPIRED_ERRORS = new Set(['TrimmedDataAccessException', 'ResourceNotFoundException', 'ExpiredIteratorException']);

/**
 * The records of a failed batch, read back from the stream (first to last sequence number,
 * inclusive), or `expired` when the stream no longer has them. Bounded: at most `maxCalls`
 * GetRecords calls (an idle, still-open shard returns empty pages forever).
 */
export async function readStreamRange(
  streams: Pick<DynamoDBStreamsClient, 'send'>,
  info: StreamRange,
  opts: { maxCalls?: number } = {},
): Promise<_Record[] | 'expired'> {
  const end = BigInt(info.endSequenceNumber);
  const out: _Record[] = [];
  try {
    const it = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: info.streamArn,
        ShardId: info.shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        SequenceNumber: info.startSequenceNumber,
      }),
    );
    let iterator = it.ShardIterator;
    for (let calls = 0; iterator && calls < (opts.maxCalls ?? 50); calls++) {
      const r = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      for (const rec of r.Records ?? []) {
        const seq = rec.dynamodb?.SequenceNumber;
        if (!seq) continue;
        if (BigInt(seq) > end) return out;
        out.push(rec);
        if (BigInt(seq) === end) return out;
      }
      iterator = r.NextShardIterator;
    }
  } catch (e) {
    if (EXPIRED_ERRORS.has((e as { name?: string }).name ?? '')) return 'expired';
    throw e;
  }
  return out;
}
