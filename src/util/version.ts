import { readFileSync } from 'node:fs';

let version: string | undefined;

/** gpt4k's own version (package.json beside src/ and dist/), read once. */
export function gpt4kVersion(): string {
  if (version === undefined) {
    try {
      version = String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      version = 'unknown';
    }
  }
  return version;
}
