/** The gossip gRPC server: Exchange → GossipNode.handlePush, Feedback → handleFeedback. Never throws on bad input. */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { bindServer, GRPC_SERVER_OPTIONS, shutdownServer } from '../util/grpc.js';
import { gossipProto, type WireGossipMessage } from './proto.js';
import type { GossipNode } from './node.js';
import type { WireFeedbackMessage } from './feedback-message.js';

export const SHUTDOWN_GRACE_MS = 1_000;

export interface GossipServer {
  start(): Promise<{ address: string; port: number }>;
  stop(): Promise<void>;
}

/** `credentials`: mutual TLS (util/tls-files.ts) or, by default, plaintext. */
export function createGossipServer(node: GossipNode, address: string, logger: Logger, credentials?: grpc.ServerCredentials): GossipServer {
  const server = new grpc.Server(GRPC_SERVER_OPTIONS);
  server.addService(gossipProto().service, {
    Exchange(call: grpc.ServerUnaryCall<WireGossipMessage, WireGossipMessage>, cb: grpc.sendUnaryData<WireGossipMessage>) {
      try {
        const r = node.handlePush(call.request, call.getPeer());
        if (r.ok) cb(null, r.value);
        else {
          const code = r.error.reason === 'invalid' ? grpc.status.INVALID_ARGUMENT : grpc.status.UNAUTHENTICATED;
          cb({ code, details: `${r.error.code}: ${r.error.message}` });
        }
      } catch (e) {
        logger.error({ err: e }, 'gossip exchange failed');
        cb({ code: grpc.status.INTERNAL, details: 'internal error' });
      }
    },
    Feedback(call: grpc.ServerUnaryCall<WireFeedbackMessage, WireFeedbackMessage>, cb: grpc.sendUnaryData<WireFeedbackMessage>) {
      try {
        const r = node.handleFeedback(call.request, call.getPeer());
        if (r.ok) cb(null, r.value);
        else {
          const code = r.error.reason === 'invalid' ? grpc.status.FAILED_PRECONDITION : grpc.status.UNAUTHENTICATED;
          cb({ code, details: `${r.error.code}: ${r.error.message}` });
        }
      } catch (e) {
        logger.error({ err: e }, 'forwarded feedback failed');
        cb({ code: grpc.status.INTERNAL, details: 'internal error' });
      }
    },
  });
  return {
    async start() {
      const port = await bindServer(server, address, credentials);
      const host = address.slice(0, address.lastIndexOf(':'));
      return { address: `${host}:${port}`, port };
    },
    stop: () => shutdownServer(server, SHUTDOWN_GRACE_MS),
  };
}
