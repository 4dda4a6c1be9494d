/**
 * Checks that relate fields to each other. They read the raw (parsed YAML)
 * document defensively, so they report even when the schema rejects some
 * unrelated field: every issue in the file is reported at once.
 */
import { isLoopback, parseAddress } from '../util/address.js';
import * as D from './defaults.js';
import { issue } from './issues.js';
import type { ConfigIssue } from './types.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const has = (o: Obj, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);
const listOf = (names: Iterable<string>): string => [...names].join(', ');

/** Policies that send exactly what they are told get no exploration floor by default. */
const BASELINE_POLICIES = new Set(['static', 'fixed']);

export function checkRelations(doc: unknown): ConfigIssue[] {
  if (!isObj(doc)) return [];
  const issues: ConfigIssue[] = [];
  if (Array.isArray(doc.routes)) checkRoutes(doc.routes, issues);
  checkAdmin(doc, issues);
  checkGossip(doc, issues);
  checkExtProc(doc, issues);
  checkAggregator(doc, issues);
  return issues;
}

function checkRoutes(routes: unknown[], issues: ConfigIssue[]): void {
  const seen = new Map<string, number>();
  routes.forEach((route, i) => {
    if (!isObj(route)) return;
    const name = str(route.name);
    if (name !== undefined) {
      const first = seen.get(name);
      if (first !== undefined) issues.push(issue(['routes', i, 'name'], `duplicate route name ${JSON.stringify(name)} (also routes[${first}])`));
      else seen.set(name, i);
    }
    checkRoute(route, i, issues);
  });
}

function checkRoute(route: Obj, i: number, issues: ConfigIssue[]): void {
  if (!Array.isArray(route.arms)) return;
  const arms = new Map<string, number>();
  route.arms.forEach((arm, j) => {
    const name = isObj(arm) ? str(arm.name) : undefined;
    if (name === undefined) return;
    const first = arms.get(name);
    if (first !== undefined) issues.push(issue(['routes', i, 'arms', j, 'name'], `duplicate arm name ${JSON.stringify(name)} (also arms[${first}])`));
    else arms.set(name, j);
  });
  // A model rewrite needs the body, which Envoy buffers only on routes that ask for it.
  const bodyRewrite = route.body_rewrite;
  if (bodyRewrite === undefined || bodyRewrite === null) {
    route.arms.forEach((arm, j) => {
      const rw = isObj(arm) ? arm.rewrite : undefined;
      if (isObj(rw) && rw.model !== undefined && rw.model !== null) {
        issues.push(issue(['routes', i, 'arms', j, 'rewrite', 'model'], 'needs body_rewrite on the route (the request body is only read, and Envoy only buffers it, on routes that opt in)'));
      }
    });
  }
  const notAnArm = (what: string) => `${what} is not an arm of this route (arms: ${listOf(arms.keys())})`;

  const defaultArm = str(route.default_arm);
  if (defaultArm !== undefined && !arms.has(defaultArm)) {
    issues.push(issue(['routes', i, 'default_arm'], notAnArm(JSON.stringify(defaultArm))));
  }

  const policy = route.policy;
  if (!isObj(policy)) return;
  const type = str(policy.type);
  const contextual = type === 'linucb' || type === 'lints';
  const hasFeatures = route.features !== undefined && route.features !== null;
  if (contextual && !hasFeatures) issues.push(issue(['routes', i, 'features'], `required by policy ${type}: the request features its models read`));
  if (!contextual && type !== undefined && hasFeatures) issues.push(issue(['routes', i, 'features'], `only linucb and lints read features; policy ${type} would ignore them`));
  if (route.warm_start !== undefined && route.warm_start !== null && type !== undefined) {
    const drift = isObj(policy.drift) ? str(policy.drift.mode) : undefined;
    const perObservation = type.startsWith('discounted_') || type.startsWith('sliding_') || drift === 'discount' || drift === 'window';
    if (perObservation) issues.push(issue(['routes', i, 'warm_start'], 'needs drift none or half_life: a prior shared by the fleet has no observations of its own to discount or window'));
    if (type === 'static' || type === 'fixed') issues.push(issue(['routes', i, 'warm_start'], `policy ${type} does not learn; a warm start would change nothing`));
  }
  if (type === 'static' && isObj(policy.weights)) {
    for (const key of Object.keys(policy.weights)) {
      if (!arms.has(key)) issues.push(issue(['routes', i, 'policy', 'weights', key], notAnArm(JSON.stringify(key))));
    }
  }
  if (type === 'fixed') {
    const arm = str(policy.arm);
    if (arm !== undefined && arm !== '' && !arms.has(arm)) issues.push(issue(['routes', i, 'policy', 'arm'], notAnArm(JSON.stringify(arm))));
  }

  const minShare = has(policy, 'min_share')
    ? policy.min_share
    : type !== undefined && BASELINE_POLICIES.has(type)
      ? D.DEFAULT_MIN_SHARE_BASELINE
      : D.DEFAULT_MIN_SHARE;
  const n = route.arms.length;
  // out-of-range values are the schema's to report
  if (typeof minShare === 'number' && minShare >= 0 && minShare < 1 && minShare * n >= 1) {
    issues.push(issue(['routes', i, 'policy', 'min_share'], `min_share ${minShare} × ${n} arms = ${round(minShare * n)}; must be < 1 so the policy keeps some traffic to steer`));
  }
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

function nonLoopback(text: unknown, fallback: string): string | undefined {
  const value = text === undefined ? fallback : str(text);
  if (value === undefined) return undefined;
  const addr = parseAddress(value);
  return addr !== undefined && !isLoopback(addr) ? value : undefined;
}

const givenFile = (v: unknown): boolean => typeof v === 'string' && v !== '';

function checkAdmin(doc: Obj, issues: ConfigIssue[]): void {
  const listen = isObj(doc.listen) ? doc.listen.admin : undefined;
  const exposed = nonLoopback(listen, D.DEFAULT_ADMIN_LISTEN);
  if (exposed === undefined) return;
  const admin = isObj(doc.admin) ? doc.admin : {};
  if (!givenFile(admin.token_file)) {
    issues.push(issue(['admin', 'token_file'], `required when listen.admin (${exposed}) is not loopback`));
  }
}

function checkGossip(doc: Obj, issues: ConfigIssue[]): void {
  const gossip = doc.gossip;
  if (!isObj(gossip) || givenFile(gossip.secret_file)) return;
  const listen = nonLoopback(gossip.listen, D.DEFAULT_GOSSIP_LISTEN);
  if (listen !== undefined) {
    issues.push(issue(['gossip', 'secret_file'], `required when gossip.listen (${listen}) is not loopback`));
    return;
  }
  // Snapshots sent to another host travel unauthenticated without the secret, too.
  const peers = Array.isArray(gossip.peers) ? gossip.peers : [];
  const remote = peers.find((p) => nonLoopback(p, '') !== undefined);
  if (remote !== undefined) {
    issues.push(issue(['gossip', 'secret_file'], `required when a gossip peer (${String(remote)}) is not loopback`));
  } else if (typeof gossip.dns === 'string' && gossip.dns !== '') {
    issues.push(issue(['gossip', 'secret_file'], 'required when gossip.dns is set'));
  }
}

/**
 * ext_proc has no authentication of its own (issue 15.7): whoever reaches the
 * port can steer routing and read every request's headers. Envoy runs next to
 * the sidecar, so loopback or a unix socket is always possible.
 */
function checkExtProc(doc: Obj, issues: ConfigIssue[]): void {
  const listen = isObj(doc.listen) ? doc.listen.ext_proc : undefined;
  const exposed = nonLoopback(listen, D.DEFAULT_EXTPROC_LISTEN);
  if (exposed === undefined) return;
  issues.push(issue(['listen', 'ext_proc'], `${exposed} is not loopback: ext_proc has no authentication; listen on 127.0.0.1 or a unix: socket shared with Envoy`));
}

/** Reward streams are authenticated with the gossip secret; off loopback (a listen or a remote aggregator) it is required. */
function checkAggregator(doc: Obj, issues: ConfigIssue[]): void {
  const agg = doc.aggregator;
  if (!isObj(agg)) return;
  const gossip = isObj(doc.gossip) ? doc.gossip : undefined;
  if (gossip !== undefined && givenFile(gossip.secret_file)) return;
  const address = nonLoopback(agg.address, D.DEFAULT_AGGREGATOR_ADDRESS);
  if (address === undefined) return;
  issues.push(issue(['gossip', 'secret_file'], `required when aggregator.address (${address}) is not loopback: it authenticates the reward stream`));
}
