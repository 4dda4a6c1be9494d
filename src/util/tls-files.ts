/**
 * Optional mutual TLS for gossip and the reward stream, from three PEM files
 * (`tls: {cert, key, ca}`). The files are re-read every `reload` interval and
 * on a config reload (SIGHUP or POST /v1/reload); a new set is taken only when
 * it loads as a whole (the key matches the certificate, the CA parses), so a
 * rotation caught half-written keeps the previous set and is tried again on the
 * next read. New connections use the newest set; open ones keep theirs.
 *
 * Trust is the CA: both sides present a certificate and accept any peer whose
 * certificate chains to it (host names are not checked — replicas are
 * addressed by pod IPs), so use a CA dedicated to the fleet.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { TlsConfig } from '../config/types.js';
import { BanditError, ErrorCodes } from './errors.js';


interface Material {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

type CaListener = (u: { caCertificate: Buffer } | null) => void;
type IdentityListener = (u: { certificate: Buffer; privateKey: Buffer } | null) => void;

/** Reads, checks and re-reads the three files; a grpc-js certificate provider for both ends. */
export class TlsFiles implements grpc.experimental.CertificateProvider {
  private current: Material | null = null;
  private readonly caListeners = new Set<CaListener>();
  private readonly idListeners = new Set<IdentityListener>();
  private timer: NodeJS.Timeout | undefined;
  /** Sets taken (1 after the first load) and reads refused. */
  loads = 0;
  refused = 0;

  constructor(
    private readonly cfg: TlsConfig,
    private readonly logger: Pick<Logger, 'info' | 'error'> | null = null,
  ) {}

  /** First load: a set that does not load is a config error (the process does not start without its certificates). */
  async start(): Promise<void> {
    const r = await this.read();
    if ('error' in r) throw new BanditError(ErrorCodes.CONFIG_INVALID, `tls: ${r.error}`);
    this.take(r.material);
    this.timer = setInterval(() => void this.reload(), this.cfg.reload_ms);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Re-reads the files; publishes them when they changed and load as a whole. Resolves true when a new set was taken. */
  async reload(): Promise<boolean> {
    const r = await this.read();
    if ('error' in r) {
      this.refused++;
      this.logger?.error({ err: r.error, cert: this.cfg.cert }, 'tls: new certificate files not taken; keeping the previous set');
      return false;
    }
    const m = r.material;
    const c = this.current;
    if (c && c.cert.equals(m.cert) && c.key.equals(m.key) && c.ca.equals(m.ca)) return false;
    this.take(m);
    this.logger?.info({ cert: this.cfg.cert, loads: this.loads }, 'tls: certificate files reloaded');
    return true;
  }

  private take(m: Material): void {
    this.current = m;
    this.loads++;
    for (const l of this.caListeners) l({ caCertificate: m.ca });
    for (const l of this.idListeners) l({ certificate: m.cert, privateKey: m.key });
  }

  private async read(): Promise<{ material: Material } | { error: string }> {
    let m: Material;
    try {
      const [cert, key, ca] = await Promise.all([readFile(this.cfg.cert), readFile(this.cfg.key), readFile(this.cfg.ca)]);
      m = { cert, key, ca };
    } catch (e) {
      return { error: `cannot read: ${(e as Error).message}` };
    }
    try {
      // Throws on a key that does not match the certificate, or unparseable PEM.
      createSecureContext({ cert: m.cert, key: m.key, ca: m.ca });
    } catch (e) {
      return { error: `${this.cfg.cert}, ${this.cfg.key}, ${this.cfg.ca} do not load together: ${(e as Error).message}` };
    }
    return { material: m };
  }

  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    // Asynchronously, as grpc-js expects: it registers its watcher after adding the listener.
    const c = this.current;
    if (c) process.nextTick(l, { caCertificate: c.ca });
  }
  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdentityListener): void {
    this.idListeners.add(l);
    const c = this.current;
    if (c) process.nextTick(l, { certificate: c.cert, privateKey: c.key });
  }
  removeIdentityCertificateListener(l: IdentityListener): void {
    this.idListeners.delete(l);
  }

  /** Server side: requires and verifies a client certificate. */
  serverCredentials(): grpc.ServerCredentials {
    return grpc.experimental.createCertificateProviderServerCredentials(this, this, true);
  }

  /** Client side: presents our certificate, verifies the server's against the CA (not its host name). */
  channelCredentials(): grpc.ChannelCredentials {
    return grpc.experimental.createCertificateProviderChannelCredentials(this, this, { checkServerIdentity: () => undefined });
  }
}

/** Insecure credentials when `tls` is null (loopback fleets, tests). */
export interface GrpcCredentials {
  server(): grpc.ServerCredentials;
  channel(): grpc.ChannelCredentials;
}

export const INSECURE: GrpcCredentials = {
  server: () => grpc.ServerCredentials.createInsecure(),
  channel: () => grpc.credentials.createInsecure(),
};

export function credentialsOf(tls: TlsFiles | null): GrpcCredentials {
  if (!tls) return INSECURE;
  return { server: () => tls.serverCredentials(), channel: () => tls.channelCredentials() };
}
