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
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { formatIssues, issuesError } from '../config/issues.js';
import type { ConfigIssue, TlsConfig } from '../config/types.js';
import { ErrorCodes, err, ok, type Result } from './errors.js';
import { readProblem } from './secret.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

const firstLine = (e: unknown): string => ((e as Error).message.split('\n', 1)[0] ?? '').trim();

/**
 * Reads and checks the three files as one set: the one loader `validate`,
 * the start and every re-read use. Each problem is at the field naming the
 * file (`tls.cert`, `tls.key`, `tls.ca`): unreadable is EB_CONFIG_READ; not
 * PEM, a key that does not match the certificate, or a set that Node's TLS
 * refuses is EB_CONFIG_INVALID.
 */
export async function readTlsMaterial(cfg: TlsConfig): Promise<Result<TlsMaterial, ConfigIssue[]>> {
  const fields = [['cert', cfg.cert], ['key', cfg.key], ['ca', cfg.ca]] as const;
  const issues: ConfigIssue[] = [];
  const invalid = (field: string, message: string) => issues.push({ path: `tls.${field}`, message, code: ErrorCodes.CONFIG_INVALID });
  const bufs = await Promise.all(
    fields.map(async ([field, file]) => {
      try {
        return await readFile(file);
      } catch (e) {
        issues.push({ path: `tls.${field}`, message: `cannot read ${file}: ${readProblem(e)}`, code: ErrorCodes.CONFIG_READ });
        return null;
      }
    }),
  );
  const [cert, key, ca] = bufs;
  // Each file that was read is parsed, so one run names every bad file.
  const parse = <T>(buf: Buffer | null | undefined, field: string, what: string, file: string, fn: (b: Buffer) => T): T | null => {
    if (!buf) return null;
    try {
      return fn(buf);
    } catch (e) {
      invalid(field, `${file} is not ${what}: ${firstLine(e)}`);
      return null;
    }
  };
  const leaf = parse(cert, 'cert', 'a PEM certificate', cfg.cert, (b) => new X509Certificate(b));
  const privateKey = parse(key, 'key', 'a PEM private key (unencrypted)', cfg.key, (b) => createPrivateKey(b));
  parse(ca, 'ca', 'a PEM CA certificate', cfg.ca, (b) => new X509Certificate(b));
  if (leaf && privateKey && !leaf.checkPrivateKey(privateKey)) invalid('key', `${cfg.key} does not match the certificate in ${cfg.cert}`);
  const order = (i: ConfigIssue) => fields.findIndex(([field]) => i.path === `tls.${field}`);
  if (issues.length > 0 || !cert || !key || !ca) return err(issues.sort((a, b) => order(a) - order(b)));
  try {
    createSecureContext({ cert, key, ca });
  } catch (e) {
    return err([{ path: 'tls', message: `${cfg.cert}, ${cfg.key}, ${cfg.ca} do not load together: ${firstLine(e)}`, code: ErrorCodes.CONFIG_INVALID }]);
  }
  return ok({ cert, key, ca });
}

type CaListener = (u: { caCertificate: Buffer } | null) => void;
type IdentityListener = (u: { certificate: Buffer; privateKey: Buffer } | null) => void;

/** Reads, checks and re-reads the three files; a grpc-js certificate provider for both ends. */
export class TlsFiles implements grpc.experimental.CertificateProvider {
  private current: TlsMaterial | null = null;
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
    const r = await readTlsMaterial(this.cfg);
    if (!r.ok) throw issuesError(r.error);
    this.take(r.value);
    this.timer = setInterval(() => void this.reload(), this.cfg.reload_ms);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Re-reads the files; publishes them when they changed and load as a whole. Resolves true when a new set was taken. */
  async reload(): Promise<boolean> {
    const r = await readTlsMaterial(this.cfg);
    if (!r.ok) {
      this.refused++;
      this.logger?.error({ err: formatIssues(r.error).join('; '), cert: this.cfg.cert }, 'tls: new certificate files not taken; keeping the previous set');
      return false;
    }
    const m = r.value;
    const c = this.current;
    if (c && c.cert.equals(m.cert) && c.key.equals(m.key) && c.ca.equals(m.ca)) return false;
    this.take(m);
    this.logger?.info({ cert: this.cfg.cert, loads: this.loads }, 'tls: certificate files reloaded');
    return true;
  }

  private take(m: TlsMaterial): void {
    this.current = m;
    this.loads++;
    for (const l of this.caListeners) l({ caCertificate: m.ca });
    for (const l of this.idListeners) l({ certificate: m.cert, privateKey: m.key });
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
