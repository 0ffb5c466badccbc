#!/usr/bin/env node
// A plain `gpt4k build` with nothing to do is answered before the CLI is loaded (dist/cli/noop-fast.js).
import { noopBuildMain } from '../dist/cli/noop-fast.js';

const argv = process.argv.slice(2);
const fast = await noopBuildMain(argv);
if (fast !== undefined) {
  process.exitCode = fast;
} else {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(argv);
}
