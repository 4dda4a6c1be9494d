/** One non-blank line of a JSONL text: its parsed value, or why it is not JSON. `where` names the line (1-based). */
export type JsonLine = { where: string; value: unknown; error?: undefined } | { where: string; error: string };

/** The non-blank lines of a JSONL text, parsed one at a time (nothing is held beyond the current line). */
export function* jsonLines(text: string): Generator<JsonLine> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const where = `line ${i + 1}`;
    try {
      yield { where, value: JSON.parse(line) as unknown };
    } catch {
      yield { where, error: `${where}: not valid JSON` };
    }
  }
}
