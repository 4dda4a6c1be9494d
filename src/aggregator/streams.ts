import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Clock } from '../util/clock.js';
import { ErrorCodes, type Result } from '../util/errors.js';
import type { AggregatorMetrics } from './metrics.js';
import type { WireRewardAck, WireRewardBatch } from './proto.js';
import { newStreamNonce, STREAM_AUTH_HEADER, STREAM_NONCE_HEADER, verifyBatch, verifyStream } from './stream-auth.js';
import type { SummaryCounts } from './summary.js';

/** A stream with this many batches waiting to be written is paused (flow control). */
export const MAX_PENDING_BATCHES_PER_STREAM = 64;

export interface StreamDeps {
  /** The gossip secret: streams must authenticate with it (stream-auth.ts); null = open. */
  secret: Buffer | null;
  ingest(batch: WireRewardBatch): Promise<Result<WireRewardAck>>;
  counts: SummaryCounts;
  metrics: AggregatorMetrics;
  clock: Clock;
  logger: Logger;
}

/**
 * One replica's `Rewards` stream: authenticate it, ingest its batches in
 * arrival order (their appends share group commits), ack them in order, pause
 * the stream while too many wait, and end it on the first refused batch.
 */
export function serveRewardStream(d: StreamDeps, call: grpc.ServerDuplexStream<WireRewardBatch, WireRewardAck>): void {
  const peer = call.getPeer();
  let authenticated: string | null = null;
  const secret = d.secret;
  const nonce = newStreamNonce();
  let lastSeq = 0;
  /** Refuses a stream or batch that is not authentic: counted by reason, logged, closed with a coded status. */
  const refuse = (reason: string, message: string, code: grpc.status) => {
    d.metrics.authFailures.inc({ reason });
    d.metrics.ingested.inc({ outcome: 'unauthenticated' });
    d.logger.warn({ peer, reason, err: message, code: ErrorCodes.REWARD_STREAM_AUTH }, 'reward stream refused: not authentic');
    call.emit('error', { code, details: `${ErrorCodes.REWARD_STREAM_AUTH}: ${message}` });
  };
  if (secret) {
    const v = verifyStream(secret, call.metadata.get(STREAM_AUTH_HEADER)[0], d.clock.now());
    if (!v.ok) {
      refuse('stream_header', `reward stream not authenticated: ${v.error.message}`, grpc.status.UNAUTHENTICATED);
      return;
    }
    authenticated = v.value.replica;
    // Every batch on this stream must carry a MAC over this nonce (stream-auth.ts).
    const md = new grpc.Metadata();
    md.set(STREAM_NONCE_HEADER, nonce);
    call.sendMetadata(md);
  }
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  let failed = false;
  d.counts.streams++;
  d.metrics.streams.set(d.counts.streams);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    d.counts.streams--;
    d.metrics.streams.set(d.counts.streams);
  };
  call.on('data', (batch: WireRewardBatch) => {
    if (failed) return;
    if (secret && authenticated !== null) {
      const v = verifyBatch(secret, nonce, authenticated, lastSeq, batch);
      if (!v.ok) {
        failed = true;
        refuse(v.error.reason, v.error.message, v.error.reason === 'replica_mismatch' ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED);
        return;
      }
      lastSeq = Number(batch.seq);
    }
    pending++;
    if (pending >= MAX_PENDING_BATCHES_PER_STREAM) call.pause();
    // Dedupe runs now, in arrival order, and the append joins the log's queue at once,
    // so a stream's pipelined batches share group commits; acks still leave in order.
    const ingested = d.ingest(batch);
    ingested.catch(() => undefined);
    chain = chain.then(async () => {
      if (failed) return;
      try {
        const ack = await ingested;
        if (!ack.ok) {
          failed = true;
          const code = ack.error.code === ErrorCodes.REWARD_BATCH_INVALID ? grpc.status.INVALID_ARGUMENT : grpc.status.UNAVAILABLE;
          d.logger.error({ err: ack.error.message, code: ack.error.code, peer }, 'reward batch not accepted');
          call.emit('error', { code, details: `${ack.error.code}: ${ack.error.message}` });
        } else if (!call.cancelled && !call.destroyed) call.write(ack.value);
      } catch (e) {
        failed = true;
        d.logger.error({ err: (e as Error).message, code: ErrorCodes.INTERNAL, peer }, 'reward batch not accepted');
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: (e as Error).message });
      } finally {
        pending--;
        if (call.isPaused() && pending < MAX_PENDING_BATCHES_PER_STREAM / 2) call.resume();
      }
    });
  });
  call.on('end', () => {
    void chain.then(() => {
      if (!failed && !call.destroyed) call.end();
      close();
    });
  });
  call.on('cancelled', close);
  call.on('error', close);
  call.on('close', close);
}
