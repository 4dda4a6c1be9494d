import type { RewardConfig } from '../config/types.js';

/** What the reward scores about one call (its failure is judged by classifyExchange in outcome.ts). */
export interface ResponseObservation {
  /** The latency the route scores: time to first byte or total duration (scoredLatencyMs). */
  latencyMs: number;
  /** Raw value of the configured reward header, if the backend sent it. */
  rewardHeader: string | undefined;
  /** The arm's configured cost. */
  cost: number;
  /** The largest cost among the route's arms (normalizes cost to [0,1]). */
  maxCost: number;
}

/** Parses a backend reward header: a number in [0,1], else undefined (ignored). */
export function parseRewardHeader(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const x = Number(value);
  return Number.isFinite(x) && x >= 0 && x <= 1 ? x : undefined;
}

/**
 * The reward of one response, in [0,1]: a failed call (classifyExchange) earns 0 — latency and cost only rank calls that worked. A
 * successful call earns the weighted mean of the components that apply:
 * success (1), latency (1 below the SLO, falling linearly to 0 at twice it),
 * the backend's reward header (when sent), and cheapness (1 - cost/maxCost).
 */
export function computeReward(
  cfg: RewardConfig,
  failed: boolean,
  obs: ResponseObservation,
): number {
  if (failed) return 0;
  const w = cfg.weights;
  let total = w.success;
  let weight = w.success;
  if (cfg.latency && w.latency > 0) {
    const slo = cfg.latency.slo_ms;
    const score = obs.latencyMs <= slo ? 1 : Math.max(0, 2 - obs.latencyMs / slo);
    total += w.latency * score;
    weight += w.latency;
  }
  if (cfg.header && w.header > 0) {
    const h = parseRewardHeader(obs.rewardHeader);
    if (h !== undefined) {
      total += w.header * h;
      weight += w.header;
    }
  }
  if (w.cost > 0 && obs.maxCost > 0) {
    total += w.cost * (1 - Math.min(1, Math.max(0, obs.cost / obs.maxCost)));
    weight += w.cost;
  }
  return weight > 0 ? total / weight : 0;
}
