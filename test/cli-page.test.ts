import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, tempDir } from './helpers';
import { runTreeApp, type TreeRun } from './fixtures/cli/tree-report';

// The page is checked in a real browser: Debian's chromium driven by playwright-core,
// which lives in the fixture app test/apps/browser (its own lockfile).
const BROWSER_APP = join(__dirname, 'apps', 'browser');
const CHROMIUM = '/usr/bin/chromium';
const MAIN = resolve(__dirname, '..', 'dist', 'cli', 'main.js');
const TREE_APP = resolve(__dirname, 'fixtures', 'cli', 'tree-app.js');
const { dir, cleanup } = tempDir();

type Playwright = typeof import('./apps/browser/node_modules/playwright-core');
let playwright: Playwright;
let context: import('./apps/browser/node_modules/playwright-core').BrowserContext;
let run: TreeRun;
const requests: string[] = [];

before(async () => {
  assert.ok(existsSync(join(BROWSER_APP, 'node_modules', 'playwright-core')), `playwright-core is missing: npm ci in ${BROWSER_APP}`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  playwright = createRequire(join(BROWSER_APP, 'package.json'))('playwright-core') as Playwright;
  run = await runTreeApp(dir);
  context = await playwright.chromium.launchPersistentContext(mkdtempSync(join(dir, 'profile-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.on('request', (request) => requests.push(request.url()));
});
after(async () => {
  await context?.close();
  cleanup();
});

function cli(args: string[]) {
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd: ROOT, maxBuffer: 64 << 20 });
  return { code: result.status, stdout: String(result.stdout), stderr: String(result.stderr) };
}

function htmlPage(report: string, name: string): string {
  const out = join(dir, name);
  const { code, stderr } = cli(['report', report, '--format', 'html', '--out', out]);
  assert.equal(stderr, '');
  assert.equal(code, 1);
  return out;
}

test('the page shows the process tree of a real run, each violation, and makes no request', async () => {
  const file = htmlPage(run.report, 'tree.html');
  const url = pathToFileURL(file).href;
  requests.length = 0;
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  await page.goto(url);
  await page.waitForSelector('#tree li.process');

  const violations = run.records.filter((r) => r.type === 'violation');
  const forks = run.records.filter((r) => r.type === 'fork');
  const closed = forks.reduce((sum, f) => sum + f.closed, 0);
  const violationPids = new Set(violations.map((v) => v.pid)).size;
  assert.equal(
    await page.textContent('#summary'),
    `${violations.length} violations in ${violationPids} processes; ${closed} connections closed before ${forks.length} forks (6 processes in the tree)`,
  );

  // Collapsed: the first violation's path is open (the primary), the first worker's subtree is not.
  const { tree } = run;
  const process = (pid: number) => page.locator(`li.process[data-pid="${pid}"]`);
  assert.ok(await process(tree.primary).locator('li.violation').first().isVisible(), 'the first violation is shown at once');
  assert.ok(await process(tree.workers[0]!).isVisible());
  assert.equal(await process(tree.helpers[0]!).isVisible(), false, "the worker's subtree starts collapsed");

  await page.click('#expand-all');
  const parents: Array<[number, number | null]> = [
    [tree.primary, null],
    [tree.workers[0]!, tree.primary],
    [tree.workers[1]!, tree.primary],
    [tree.helpers[0]!, tree.workers[0]!],
    [tree.job, tree.primary],
    [tree.spawned, tree.primary],
  ];
  for (const [pid, parent] of parents) {
    assert.ok(await process(pid).isVisible(), `pid ${pid} is visible`);
    const shownParent = await process(pid).evaluate((li) => li.parentElement!.closest('li.process')?.getAttribute('data-pid') ?? null);
    assert.equal(shownParent, parent === null ? null : String(parent), `pid ${pid} is under ${parent}`);
    assert.match((await process(pid).locator('.pid').first().textContent())!, new RegExp(`^pid ${pid}$`));
  }
  // cluster.fork and child_process.fork are told apart, and each fork says what its pre-fork step did.
  assert.equal(await process(tree.workers[0]!).locator('.chip.cluster').first().textContent(), 'cluster.fork');
  assert.equal(await process(tree.job).locator('.chip.child').first().textContent(), 'child_process.fork');
  const jobFork = forks.find((f) => f.childPid === tree.job);
  assert.equal(await process(tree.job).locator('.command').first().textContent(), TREE_APP, 'the forked module');
  assert.equal(
    await process(tree.job).locator('.fork-step').first().textContent(),
    `child_process.fork · pre-fork step: pools ${jobFork.pools}, closed ${jobFork.closed}, kept ${jobFork.kept}, ${jobFork.ms} ms, onFork disconnect`,
  );

  for (const v of violations) {
    const row = process(v.pid).locator(`li.violation[data-kind="${v.kind}"]`);
    assert.equal(await row.count(), 1, `${v.kind} in pid ${v.pid}`);
    assert.ok(await row.isVisible());
    assert.equal(await row.locator('.site').textContent(), v.site);
    assert.equal(await row.locator('.opened').textContent(), v.openedSite ?? '<unknown>');
    assert.ok((await row.locator('.conn').textContent())!.includes(`pg ${v.target} (${v.socket.local} → ${v.socket.remote})`));
  }

  // The kind filter hides the other kinds' rows, and "all kinds" shows them again.
  await page.selectOption('#kind-filter', 'stdio-inherit');
  for (const v of violations) {
    assert.equal(await process(v.pid).locator(`li.violation[data-kind="${v.kind}"]`).isVisible(), v.kind === 'stdio-inherit', v.kind);
  }
  await page.selectOption('#kind-filter', '');
  assert.equal(await page.locator('li.violation:visible').count(), violations.length);

  await page.screenshot({ path: join(dir, 'report-page.png'), fullPage: true });
  assert.ok(statSync(join(dir, 'report-page.png')).size > 0);
  await page.close();
  assert.deepEqual(errors, []);
  assert.deepEqual([...new Set(requests)], [url], 'the page itself is the only request');
});

test('a page of 500 processes starts collapsed; the driver filter hides the other drivers', async () => {
  // The 10,000-line synthetic report of cli-formats.test.ts, written here the same way.
  const report = join(dir, 'five-hundred.jsonl');
  const lines: string[] = [];
  for (let i = 1; i < 500; i++) {
    lines.push(JSON.stringify({ v: 1, type: 'fork', time: 't', pid: 1000 + Math.floor((i - 1) / 4), ppid: 1, api: i % 2 ? 'cluster.fork' : 'child_process.fork', childPid: 1000 + i, pools: 1, closed: 2, kept: 0, ms: 0.3, onFork: 'disconnect' }));
  }
  for (let i = 0; i < 40; i++) {
    lines.push(JSON.stringify({ v: 1, type: 'violation', time: 't', pid: 1400 + i, ppid: 1, kind: 'handle-transfer', mode: 'log', api: 'ChildProcess.send', driver: i % 2 ? 'pg' : 'mysql2', target: 'app@db:1/x', socket: { local: 'a:1', remote: 'b:2' }, site: `/app/h${i}.js:1:1`, openedSite: '/app/db.js:1:1' }));
  }
  lines.push('{"v":1,"type":"violation"', JSON.stringify({ v: 1, type: 'violation', time: 't', pid: 1400, ppid: 1, kind: 'handle-transfer', driver: 'pg', site: '/app/t.js:2:3', test: { file: '/app/t.test.js', name: 'sends a job' } }));
  writeFileSync(report, lines.join('\n') + '\n');
  const page = await context.newPage();
  await page.goto(pathToFileURL(htmlPage(report, 'five-hundred.html')).href);
  await page.waitForSelector('#tree li.process');
  const visible = await page.locator('li.process:visible').count();
  assert.ok(visible < 50, `${visible} processes visible at first`);
  assert.ok(await page.locator('li.process[data-pid="1400"] li.violation').first().isVisible(), 'the path to the first violation is expanded');
  await page.click('#expand-all');
  assert.equal(await page.locator('li.process:visible').count(), 500);
  await page.selectOption('#driver-filter', 'pg');
  assert.equal(await page.locator('li.violation:visible').count(), 21);
  assert.equal(await page.locator('li.violation[data-driver="mysql2"]:visible').count(), 0);
  assert.equal(await page.textContent('#shown'), 'showing 21 of 41 violation entries');
  // Malformed lines are listed on the page too.
  assert.ok(await page.locator('#malformed').isVisible());
  assert.deepEqual(await page.locator('#malformed-lines li').allTextContents(), [`line ${lines.length - 1}: not JSON`]);
  await page.close();
});

test('--format junit is XML a parser accepts: one failing test case per call site, both stacks, passing forks', async () => {
  const { code, stdout } = cli(['report', run.report, '--format', 'junit']);
  assert.equal(code, 1);
  const page = await context.newPage();
  const parsed = await page.evaluate((xml) => {
    const doc = new DOMParser().parseFromString(xml, 'application/xml');
    const error = doc.querySelector('parsererror');
    return {
      error: error === null ? null : error.textContent,
      root: doc.documentElement.nodeName,
      cases: Array.from(doc.querySelectorAll('testcase')).map((c) => ({
        suite: (c.parentNode as Element).getAttribute('name'),
        classname: c.getAttribute('classname'),
        name: c.getAttribute('name'),
        file: c.getAttribute('file'),
        line: c.getAttribute('line'),
        failure: c.querySelector('failure')?.textContent ?? null,
        failureType: c.querySelector('failure')?.getAttribute('type') ?? null,
      })),
    };
  }, stdout);
  await page.close();
  assert.equal(parsed.error, null);
  assert.equal(parsed.root, 'testsuites');
  const violations = run.records.filter((r) => r.type === 'violation');
  const failing = parsed.cases.filter((c) => c.failure !== null);
  assert.equal(failing.length, new Set(violations.map((v) => `${v.kind} ${v.site}`)).size, 'a failing case per call site');
  const fixture = relative(ROOT, TREE_APP);
  for (const v of violations) {
    const matching = failing.filter((c) => c.failureType === v.kind && c.name === v.site);
    assert.equal(matching.length, 1, `${v.kind} at ${v.site} exactly once`);
    const [c] = matching;
    assert.equal(c!.suite, `forksafe ${v.kind}`);
    assert.ok(c!.failure!.includes(v.message), 'the message');
    assert.ok(c!.failure!.includes(v.stack.split('\n')[0]), 'the stack of the violating call');
    assert.ok(c!.failure!.includes(v.openedAt.split('\n')[0]), 'the stack where the connection was opened');
    assert.equal(c!.name, v.site);
    // The call itself, or for the inherited socket (its call is the start-up) where it was opened.
    const place = /^(.+):(\d+):(\d+)$/.exec(v.site) ?? /^(.+):(\d+):(\d+)$/.exec(v.openedSite);
    assert.equal(c!.file, fixture);
    assert.equal(c!.line, place![2]);
  }
  const forkCases = parsed.cases.filter((c) => c.classname === 'forksafe.fork');
  assert.equal(forkCases.length, run.records.filter((r) => r.type === 'fork').length, 'a passing case per fork');
  assert.ok(forkCases.every((c) => c.failure === null));
  assert.ok(forkCases.some((c) => c.name === `cluster.fork ${run.tree.primary} -> ${run.tree.workers[0]} (${TREE_APP})`), JSON.stringify(forkCases));
});
