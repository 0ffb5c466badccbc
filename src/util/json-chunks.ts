/**
 * JSON texts written a part at a time. A catalogue's report, fingerprints and action index are
 * 7-15 MB each at 10,000 assets: made whole, each is one large string (plus the garbage of
 * making it) at the very end of a build, when everything else is still in memory. These
 * generators give the same bytes as JSON.stringify, an entry or element at a time, and
 * `batched` joins the small parts into ~64 KiB writes.
 */

/** What JSON.stringify leaves out of an object. */
const omitted = (value: unknown): boolean => value === undefined || typeof value === 'function' || typeof value === 'symbol';

/** `text` with every line but the first indented by `pad` (JSON escapes the newlines inside strings). */
function indentRest(text: string, pad: string): string {
  return text.replaceAll('\n', `\n${pad}`);
}

/**
 * `JSON.stringify({ ...head, [key]: Object.fromEntries(entries) })`, byte for byte, with the
 * record under `key` stringified an entry at a time.
 */
export function* compactJsonChunks(head: Record<string, unknown>, key: string, entries: Iterable<readonly [string, unknown]>): Generator<string> {
  const start = JSON.stringify(head);
  yield `${start.slice(0, -1)}${start === '{}' ? '' : ','}${JSON.stringify(key)}:{`;
  let first = true;
  for (const [name, value] of entries) {
    if (omitted(value)) continue;
    yield `${first ? '' : ','}${JSON.stringify(name)}:${JSON.stringify(value)}`;
    first = false;
  }
  yield '}}';
}

/** One top-level field of an object as prettyJsonChunks writes it. */
export interface PrettyJsonPart {
  key: string;
  text: string;
}

/**
 * `JSON.stringify(value, null, 2)`, byte for byte, a top-level field at a time, and each element
 * of a top-level array on its own (a report's assets).
 */
export function* prettyJsonChunks(value: Record<string, unknown>): Generator<PrettyJsonPart> {
  const keys = Object.keys(value).filter((key) => !omitted(value[key]));
  if (keys.length === 0) {
    yield { key: '', text: '{}' };
    return;
  }
  yield { key: '', text: '{\n' };
  for (const [index, key] of keys.entries()) {
    const field = value[key];
    const name = `  ${JSON.stringify(key)}: `;
    const end = index < keys.length - 1 ? ',\n' : '\n';
    if (Array.isArray(field) && field.length > 0) {
      yield { key, text: `${name}[\n` };
      for (let i = 0; i < field.length; i++) {
        const element = omitted(field[i]) ? 'null' : JSON.stringify(field[i], null, 2);
        yield { key, text: `    ${indentRest(element, '    ')}${i < field.length - 1 ? ',\n' : '\n'}` };
      }
      yield { key, text: `  ]${end}` };
    } else {
      yield { key, text: `${name}${indentRest(JSON.stringify(field, null, 2), '  ')}${end}` };
    }
  }
  yield { key: '', text: '}' };
}

const CHUNK = 64 * 1024;

/** Joins small strings into chunks of about `size` characters: one write call each, not one per entry. */
export async function* batched(parts: Iterable<string> | AsyncIterable<string>, size = CHUNK): AsyncGenerator<string> {
  let buffer = '';
  for await (const part of parts) {
    buffer += part;
    if (buffer.length >= size) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer !== '') yield buffer;
}
