#!/usr/bin/env node
/**
 * `prepare`: compiles dist/ (npm ci, npm install from git, npm pack). Skipped when npm runs it
 * for `npx gpt4k` in gpt4k's own checkout: npx installs the checkout into its cache to link the
 * bin, which runs `prepare` again; compiling there made the first `npx gpt4k` silent for ~12 s
 * although dist/ was already built by `npm ci`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.npm_command === 'exec' && existsSync(path.join(root, 'dist', 'cli', 'main.js'))) process.exit(0);

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
