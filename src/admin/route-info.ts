/** Extra per-arm readings for GET /v1/routes (guardrails add theirs: error rate, p95, EWMA). */
export type ArmReadings = (route: string, arm: string) => Record<string, unknown> | null;

/**
 * Where components publish per-arm readings for /v1/routes without the admin
 * layer knowing them. One per sidecar, made by the composition root and handed
 * to the providers (guardrails/component.ts) and to the admin routes.
 */
export class ArmReadingsBoard {
  private readonly providers: ArmReadings[] = [];

  add(fn: ArmReadings): void {
    this.providers.push(fn);
  }

  /** The merged readings for one arm, or null when nobody provides any. */
  read(route: string, arm: string): Record<string, unknown> | null {
    let out: Record<string, unknown> | null = null;
    for (const fn of this.providers) {
      const r = fn(route, arm);
      if (r) out = { ...(out ?? {}), ...r };
    }
    return out;
  }
}
