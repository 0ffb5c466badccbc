#!/usr/bin/env node
// A plain `gpt4k build` with nothing to do is answered before the CLI is loaded (dist/cli/noop-fast.js).
import module from 'node:module';

// V8's compiled code for gpt4k's modules, kept between runs (Node >= 22.1; in the OS temp
// folder, or NODE_COMPILE_CACHE): a cold build spends ~0.2 s compiling them otherwise.
module.enableCompileCache?.();
const { noopBuildMain } = await import('../dist/cli/noop-fast.js');

const argv = process.argv.slice(2);
const fast = await noopBuildMain(argv);
if (fast !== undefined) {
  process.exitCode = fast;
} else {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(argv);
}
