#!/usr/bin/env node
// gpt4k benchmarks: `npm run bench` (all), `npm run bench -- noop render` (some), or
// `npm run bench -- --skip=realesrgan,openai` (all but some).
// Each figure is printed beside a peer measured in the same run on the same machine, and the
// latest results go to bench/RESULTS.md (bench/results.json keeps them per benchmark, so running
// a few refreshes those sections and keeps the others with their own dates).
// Needs dist/ (npm run bench builds it first). Not part of `npm test`.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, cleanup, machine } from './lib.mjs';

const BENCHES = {
  noop: './noop.bench.mjs',
  render: './render.bench.mjs',
  overlap: './overlap.bench.mjs',
  hash: './hash.bench.mjs',
  memory: './memory.bench.mjs',
  openai: './openai.bench.mjs',
  remote: './remote.bench.mjs',
  realesrgan: './realesrgan.bench.mjs',
  scale: './scale.bench.mjs',
  watch: './watch.bench.mjs',
};

const args = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = args.filter((a) => !(a in BENCHES));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; choose from: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
const skip = new Set(process.argv.slice(2).filter((a) => a.startsWith('--skip=')).flatMap((a) => a.slice(7).split(',')));
const selected = (args.length > 0 ? args : Object.keys(BENCHES)).filter((id) => !skip.has(id));
const here = path.join(ROOT, 'bench');
const resultsFile = path.join(here, 'results.json');
const markdownFile = path.join(here, 'RESULTS.md');

if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run `npx tsc -p tsconfig.build.json` (npm run bench does)');
  process.exit(2);
}

const host = machine();
console.log(`gpt4k benchmarks on ${host.cores} cores (${host.cpuModel}), ${host.memoryGiB} GiB, node ${host.node}`);

let stored = { results: {} };
try {
  stored = JSON.parse(readFileSync(resultsFile, 'utf8'));
} catch {
  // first run
}

let failed = 0;
// --markdown-only: rewrite RESULTS.md from results.json (after editing bench/analysis.md).
for (const id of process.argv.includes('--markdown-only') ? [] : selected) {
  const file = path.join(here, BENCHES[id]);
  if (!existsSync(file)) {
    console.log(`\n[${id}] skipped: ${path.relative(ROOT, file)} does not exist`);
    continue;
  }
  console.log(`\n[${id}]`);
  const started = Date.now();
  const loadBefore = os.loadavg()[0];
  try {
    let entry;
    if (id === 'realesrgan') {
      entry = await runRealesrgan(file);
    } else {
      const mod = await import(pathToFileURL(file).href);
      const r = await mod.bench();
      entry = { id: r.id, title: r.title, date: r.date, rows: r.rows, goals: r.goals, notes: r.notes, figures: r.figures ?? {} };
    }
    entry.seconds = Math.round((Date.now() - started) / 1000);
    entry.load = [loadBefore, os.loadavg()[0]].map((l) => Math.round(l * 100) / 100);
    entry.machine = host;
    stored.results[id] = entry;
    console.log(`  (${entry.seconds} s)`);
  } catch (err) {
    failed++;
    console.error(`  FAILED: ${err.stack ?? err}`);
    stored.results[id] = { id, title: id, date: new Date().toISOString(), machine: host, error: String(err.message ?? err).slice(0, 2000), rows: [], goals: [], notes: [] };
  } finally {
    cleanup();
  }
}

if (!process.argv.includes('--markdown-only')) stored.machine = host;
writeFileSync(resultsFile, `${JSON.stringify(stored, null, 1)}\n`);
writeFileSync(markdownFile, markdown(stored));
console.log(`\nwrote ${path.relative(ROOT, markdownFile)} and ${path.relative(ROOT, resultsFile)}`);
process.exitCode = failed > 0 ? 1 : 0;

/** The Real-ESRGAN benchmark is another engineer's script: run it as it is, keep its output. */
async function runRealesrgan(file) {
  const { run } = await import('./lib.mjs');
  const quick = process.env.BENCH_FULL_REALESRGAN === '1' ? [] : ['--quick'];
  const out = await run(process.execPath, [file, ...quick], { allowFail: true });
  const text = `${out.stdout}${out.code === 0 ? '' : `\n(exit ${out.code})\n${out.stderr.slice(-1500)}`}`.trim();
  console.log(text.split('\n').map((l) => `  ${l}`).join('\n'));
  return {
    id: 'realesrgan',
    title: `Upscale engines: Real-ESRGAN vs Lanczos (bench/realesrgan.bench.mjs${quick.length ? ' --quick' : ''})`,
    date: new Date().toISOString(),
    rows: [],
    goals: [],
    notes: [],
    raw: text,
  };
}

function markdown(data) {
  const m = data.machine;
  const lines = [
    '# gpt4k benchmark results',
    '',
    'Written by `npm run bench` (bench/run.mjs); do not edit by hand. Each figure stands beside a peer',
    'measured in the same run on the same machine. Benchmarks are not tests: `npm test` times nothing.',
    'Run some: `npm run bench -- noop render overlap hash memory openai realesrgan`, or all but some: `npm run bench -- --skip=realesrgan`.',
    '',
    `Latest run: ${m.date}, on ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB memory, node ${m.node}, ${m.platform}; temp files in ${m.tmp}.`,
    '',
  ];
  const goals = [];
  for (const id of Object.keys(BENCHES)) {
    const r = data.results[id];
    if (!r) continue;
    for (const g of r.goals ?? []) goals.push([r.title, g]);
  }
  if (goals.length > 0) {
    lines.push('## Goals', '', '| benchmark | goal | measured | |', '| --- | --- | --- | --- |');
    for (const [title, g] of goals) lines.push(`| ${title} | ${g.goal} | ${g.actual} | ${g.met ? 'met' : '**missed**'} |`);
    lines.push('');
  }
  for (const id of Object.keys(BENCHES)) {
    const r = data.results[id];
    if (!r) continue;
    lines.push(`## ${r.title}`, '');
    const same = r.machine && r.machine.date === m.date;
    const load = r.load ? `; 1-minute load average ${r.load[0]} before, ${r.load[1]} after, on ${r.machine?.cores ?? '?'} cores` : '';
    lines.push(`Measured ${r.date}${r.seconds !== undefined ? ` (took ${r.seconds} s${load})` : ''}${same || !r.machine ? '' : ` on ${r.machine.cores} cores (${r.machine.cpuModel}), node ${r.machine.node}`}.`, '');
    if (r.error) lines.push('**The benchmark failed:**', '', '```', r.error, '```', '');
    if (r.rows?.length) {
      lines.push('| figure | value | beside it |', '| --- | --- | --- |');
      for (const [label, value, note] of r.rows) lines.push(`| ${label} | ${value} | ${String(note).replace(/\|/g, '\\|')} |`);
      lines.push('');
    }
    if (r.goals?.length) {
      for (const g of r.goals) lines.push(`- Goal: ${g.goal}. Measured: ${g.actual}. **${g.met ? 'Met' : 'Missed'}**.`);
      lines.push('');
    }
    for (const note of r.notes ?? []) lines.push(note, '');
    if (r.raw) lines.push('```', r.raw, '```', '');
  }
  const analysis = path.join(here, 'analysis.md');
  if (existsSync(analysis)) lines.push(readFileSync(analysis, 'utf8').trim(), '');
  return `${lines.join('\n').trimEnd()}\n`;
}
