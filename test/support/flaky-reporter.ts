import type { Reporter, TestCase } from 'vitest/node';

/**
 * Names every test that failed and then passed on its retry (vitest.config.ts: retry 1), with
 * the first try's error, at the end of the run: a rare timing failure on a loaded CI machine
 * does not turn the run red, and it is not hidden either.
 */
export default class FlakyReporter implements Reporter {
  private readonly flaky: string[] = [];

  onTestCaseResult(testCase: TestCase): void {
    if (!testCase.diagnostic()?.flaky) return;
    // The public result of a passed test has no errors; the task keeps the first try's.
    const { task } = testCase as unknown as { task: { result?: { errors?: Array<{ message?: string }> } } };
    const errors = task.result?.errors ?? [];
    const first = errors[0]?.message?.split('\n')[0] ?? 'no error kept';
    this.flaky.push(`${testCase.module.moduleId.replace(`${process.cwd()}/`, '')} > ${testCase.fullName}: ${first}`);
  }

  onTestRunEnd(): void {
    if (this.flaky.length === 0) return;
    process.stdout.write(`\nFLAKY: ${this.flaky.length} test(s) failed once and passed on retry:\n${this.flaky.map((line) => `FLAKY  ${line}`).join('\n')}\n`);
  }
}
