// The report file: private (0600), never written through a symlink, and never a way to
// weaken strict mode (a full disk is said once and the violating call still throws).
import assert from 'node:assert/strict';
import { readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pgKill, readReport, runFixture, tempDir, uniqueName } from './helpers';

const door = (mode: string, report: string, appName: string) =>
  runFixture('detect/door.js', { env: { DOOR: 'send', DRIVER: 'pg', FORKSAFE_MODE: mode, FORKSAFE_REPORT: report, PGAPPNAME: appName } });

const said = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('forksafe: '));

test('a full disk (FORKSAFE_REPORT=/dev/full) cannot switch strict mode off: the send still throws, and it is said once', async () => {
  const appName = uniqueName('full');
  try {
    const run = await door('strict', '/dev/full', appName);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json.threw?.name, 'ForkSafetyError');
    assert.equal(run.json.violations.length, 1, 'still recorded in the process');
    assert.deepEqual(said(run.stderr), ['forksafe: cannot write to the report /dev/full (ENOSPC); this process goes on without it (violations are still recorded in memory, and still throw in strict mode)']);
  } finally {
    await pgKill(appName);
  }
});

test('a full disk in log mode: the violation is still recorded and warned about', async () => {
  const appName = uniqueName('fulllog');
  try {
    const run = await door('log', '/dev/full', appName);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.json.threw, null);
    assert.deepEqual(run.json.events, ['handle-transfer']);
    assert.equal(run.json.warnings.length, 1);
    // Once in this process, once in the child that received the socket (its stderr is ours).
    assert.equal(said(run.stderr).length, 2, run.stderr);
  } finally {
    await pgKill(appName);
  }
});

test('the report is created 0600 and its violation line carries site and openedSite', async () => {
  const { dir, cleanup } = tempDir();
  const appName = uniqueName('mode');
  try {
    const report = join(dir, 'r.jsonl');
    const run = await door('log', report, appName);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(statSync(report).mode & 0o777, 0o600);
    const [line] = readReport(report).filter((r) => r.type === 'violation');
    assert.match(line.site, /test\/fixtures\/detect\/door\.js:\d+:\d+$/);
    assert.match(line.openedSite, /test\/fixtures\/detect\/connect\.js:\d+:\d+$/);
  } finally {
    cleanup();
    await pgKill(appName);
  }
});

test('a symlink at the report path is refused with one line, and its target is left untouched', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const target = join(dir, 'precious.txt');
    writeFileSync(target, 'keep me\n');
    const link = join(dir, 'report.jsonl');
    symlinkSync(target, link);
    const run = await runFixture('core/app-ran.js', { env: { FORKSAFE_REPORT: link } });
    assert.equal(run.code, 9);
    assert.equal(run.stdout, '', 'the app did not run');
    assert.deepEqual(said(run.stderr), [`forksafe: FORKSAFE_REPORT=${JSON.stringify(link)} cannot be opened for appending (it is a symbolic link, which forksafe does not write through); accepted: a path to a file (not a symbolic link) in a directory that exists and is writable`]);
    assert.equal(readFileSync(target, 'utf8'), 'keep me\n');
  } finally {
    cleanup();
  }
});
