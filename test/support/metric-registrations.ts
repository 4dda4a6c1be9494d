/**
 * Every metric registration in src/, read from the source: prom-client's
 * Counter/Gauge/Histogram/Summary and the project's FastCounter,
 * FastHistogram and SumCount, each with the name it registers (a string, a
 * template over file-level string constants, or such a constant).
 */
const METRIC_CLASSES = ['Counter', 'Gauge', 'Histogram', 'Summary', 'FastCounter', 'FastHistogram', 'SumCount'] as const;

export interface MetricRegistration {
  file: string;
  kind: (typeof METRIC_CLASSES)[number];
  name: string;
}

/** The registrations in one file; throws naming the place when a name is not a literal the reader can resolve. */
export function metricRegistrations(file: string, text: string): MetricRegistration[] {
  const constants = new Map<string, string>();
  for (const m of text.matchAll(/\bconst\s+([A-Za-z_$][\w$]*)(?:\s*:\s*string)?\s*=\s*'([^'\\]*)'/g)) constants.set(m[1]!, m[2]!);
  const out: MetricRegistration[] = [];
  const ctor = new RegExp(`\\bnew\\s+(${METRIC_CLASSES.join('|')})\\s*(?:<[^>]*>)?\\s*\\(`, 'g');
  for (const m of text.matchAll(ctor)) {
    const line = text.slice(0, m.index).split('\n').length;
    const after = text.slice(m.index + m[0].length, m.index + m[0].length + 400);
    const arg = /^\s*\{\s*name:\s*('[^']*'|`[^`]*`|[A-Za-z_$][\w$]*)\s*,/.exec(after);
    if (!arg) throw new Error(`${file}:${line}: new ${m[1]}(…) without a readable { name: … } first`);
    const raw = arg[1]!;
    let name: string | undefined;
    if (raw.startsWith("'")) name = raw.slice(1, -1);
    else if (raw.startsWith('`')) {
      name = raw.slice(1, -1).replace(/\$\{([^}]*)\}/g, (_, id: string) => {
        const v = constants.get(id.trim());
        if (v === undefined) throw new Error(`${file}:${line}: metric name uses \${${id}}, not a file-level string constant`);
        return v;
      });
    } else name = constants.get(raw);
    if (name === undefined) throw new Error(`${file}:${line}: metric name ${raw} is not a file-level string constant`);
    out.push({ file, kind: m[1] as MetricRegistration['kind'], name });
  }
  return out;
}
