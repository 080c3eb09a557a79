// Test harness: starts the real local stack (devlocal.stack: engine, API, web server), drives
// Debian's Chromium through playwright-core, and runs axe audits.
import { spawn } from 'node:child_process';
import { createHmac, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const require = createRequire(import.meta.url);
export const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = join(WEB, '..');
export const ARTIFACTS = join(WEB, 'test-artifacts');
export const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const STAFF_SECRET = process.env.STAFF_JWT_SECRET || 'fairslot-web-tests-secret';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** n distinct ports the OS says are free now (port 0, all held until each is known): fixed ranges
 * collide between test files run in parallel and with other stacks on the machine. */
async function freePorts(n) {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => resolve(srv));
  })));
  const ports = servers.map((srv) => srv.address().port);
  await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  return ports;
}

function waitForLine(child, pattern, timeoutMs, label) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${label}: no ${pattern} within ${timeoutMs} ms\n${seen.slice(-3000)}`)), timeoutMs);
    const onData = (chunk) => {
      seen += chunk.toString();
      if (pattern.test(seen)) { clearTimeout(timer); resolve(); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => { seen += c.toString(); if (process.env.FAIRSLOT_WEB_DEBUG) process.stderr.write(c); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${label} exited (${code}) before ready\n${seen.slice(-3000)}`)); });
  });
}

/** Starts the stack on free ports; returns { api, web, stop() }. The web server hands the app its
 * API's URL (config.js), as `make run` does: no ?api= in the page's address. */
export async function startStack() {
  const children = [];
  const env = { ...process.env, STAFF_JWT_SECRET: STAFF_SECRET, PYTHONUNBUFFERED: '1' };
  const [apiPort, enginePort, webPort] = await freePorts(3);
  // The API answers CORS only for listed origins; the test web server runs on its own port.
  env.CORS_ORIGINS = [process.env.CORS_ORIGINS, `http://127.0.0.1:${webPort}`, `http://localhost:${webPort}`].filter(Boolean).join(',');
  // E-mails land in a fresh outbox of this run; their links open this run's web app, which knows
  // its API from config.js (no ?api= needed).
  const outbox = mkdtempSync(join(tmpdir(), 'fairslot-outbox-'));
  env.OUTBOX_DIR = outbox;
  env.WEB_BASE_URL = `http://127.0.0.1:${webPort}/`;
  const child = spawn(join(REPO, '.venv', 'bin', 'python'), ['-m', 'devlocal.stack', '--api-port', String(apiPort),
    '--engine-port', String(enginePort), '--web-port', String(webPort)], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  await waitForLine(child, /^READY\b/m, 180000, 'devlocal.stack');
  const api = `http://127.0.0.1:${apiPort}`;
  const web = `http://127.0.0.1:${webPort}/`;
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(timer);
    }
  };
  return { api, web, stop, outbox };
}

export async function launchBrowser() {
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

export async function newPage(browser, { mobile = true, locale = 'fr-FR' } = {}) {
  const context = await browser.newContext({
    viewport: mobile ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    deviceScaleFactor: 1, locale, timezoneId: 'Europe/Paris', bypassCSP: true, serviceWorkers: 'block',
  });
  const page = await context.newPage();
  page.consoleErrors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') page.consoleErrors.push(msg.text()); });
  page.on('pageerror', (err) => page.consoleErrors.push(String(err)));
  return page;
}

/** axe-core run on the current page; returns violations (all impacts). */
export async function axeAudit(page) {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
}

export function serious(violations) {
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function screenshot(page, name, opts = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true, ...opts });
  return path;
}

// ---------------------------------------------------------------- direct API use from tests

export function staffToken(groups = ['admins']) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ sub: 'web-tests', 'cognito:groups': groups, exp: Math.floor(Date.now() / 1000) + 3600 });
  const sig = createHmac('sha256', STAFF_SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export async function apiCall(api, method, path, { body, headers = {} } = {}) {
  const res = await fetch(api + path, {
    method, headers: { 'Content-Type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  return { status: res.status, data, headers: res.headers };
}

export async function setPolicy(api, siteId, procedureId, fields) {
  const res = await apiCall(api, 'PUT', `/staff/sites/${siteId}/procedures/${procedureId}/policy`, {
    body: fields, headers: { Authorization: `Bearer ${staffToken()}` },
  });
  if (res.status >= 300) throw new Error(`policy PUT ${res.status}: ${JSON.stringify(res.data)}`);
  return res.data;
}

let counter = 0;
/** A fresh identity each call: R2 and R4 bind holds, bookings and cooldowns to identities. */
export function newIdentity(overrides = {}) {
  counter += 1;
  const number = `${String(randomInt(10 ** 8)).padStart(8, '0')}${String(counter % 100).padStart(2, '0')}`;
  return {
    document: { type: 'agdref', number }, birth_date: '1990-04-12', family_name: 'Martin',
    given_names: `Amina ${counter}`, email: `amina.${counter}.${randomInt(1e6)}@example.org`, ...overrides,
  };
}

// ---------------------------------------------------------------- the local outbox (.eml files)

/** The body of an .eml file as text (quoted-printable or base64, UTF-8). */
export function emlText(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split);
  const body = raw.slice(split).trim();
  if (/Content-Transfer-Encoding:\s*base64/i.test(head)) return Buffer.from(body, 'base64').toString('utf8');
  if (!/Content-Transfer-Encoding:\s*quoted-printable/i.test(head)) return Buffer.from(body, 'latin1').toString('utf8');
  const soft = body.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < soft.length; i += 1) {
    if (soft[i] === '=' && /^[0-9A-F]{2}$/.test(soft.slice(i + 1, i + 3))) { bytes.push(parseInt(soft.slice(i + 1, i + 3), 16)); i += 2; } else bytes.push(soft.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The link of the first e-mail in the outbox whose file name ends with `suffix` (e.g.
 * `${bookingId}-confirmation.eml`), waiting for the stream or the draw to write it. */
export async function linkFromOutbox(outbox, suffix, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const name = existsSync(outbox) ? readdirSync(outbox).find((n) => n.endsWith(suffix)) : null;
    if (name) {
      const text = emlText(readFileSync(join(outbox, name), 'latin1'));
      const m = text.match(/https?:\/\/\S+#\/(booking|request)\/[^/\s]+\/[A-Za-z0-9_-]+/);
      if (m) return { link: m[0], text, name };
    }
    if (Date.now() > deadline) throw new Error(`no e-mail *${suffix} in ${outbox}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
