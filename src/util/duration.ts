const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** Parses `500ms`, `30s`, `5m`, `1h`, `1.5s` into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const [, amount, unit] = DURATION_RE.exec(text.trim()) ?? [];
  const scale = unit === undefined ? undefined : UNIT_MS[unit];
  if (amount === undefined || scale === undefined) return undefined;
  return Number(amount) * scale;
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
