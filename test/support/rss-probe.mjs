// Loaded into a CLI child with NODE_OPTIONS=--import: appends the process's peak resident set size
// (kilobytes, native memory included: sharp's pixels count) to $GPT4K_TEST_RSS_FILE on exit.
import { appendFileSync } from 'node:fs';

const file = process.env.GPT4K_TEST_RSS_FILE;
if (file) process.on('exit', () => appendFileSync(file, `${process.resourceUsage().maxRSS}\n`));
