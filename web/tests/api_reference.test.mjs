// The partners' API reference page (/api): the API's own /openapi.json rendered by the vendored
// Swagger UI inside the DSFR header and footer, under the page's real Content-Security-Policy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AXE, launchBrowser, serious, startStack, WEB } from './harness.mjs';

let stack;
let browser;

describe('API reference for partners', () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    if (stack) await stack.stop();
  });

  test('renders every operation of /openapi.json in the DSFR frame, from vendored files only', async () => {
    const document = await (await fetch(`${stack.api}/openapi.json`)).json();
    const operations = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: 'block' });
    const page = await context.newPage();
    const errors = [];
    const origins = new Set();
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
    page.on('pageerror', (err) => errors.push(String(err)));
    page.on('request', (request) => origins.add(new URL(request.url()).origin));
    await page.goto(`${stack.web}api`);
    await page.waitForSelector('body[data-reference="ready"]', { timeout: 30000 });
    await page.waitForSelector('.opblock', { timeout: 30000 });
    assert.equal(await page.locator('.opblock').count(), operations);
    assert.match(await page.textContent('#reference'), /\/partner\/holds/);
    assert.equal(await page.locator('header.fr-header').count(), 1);
    assert.equal(await page.locator('footer.fr-footer').count(), 1);
    assert.deepEqual(errors, [], 'no console errors (a CSP refusal would show here)');
    assert.deepEqual([...origins].sort(), [new URL(stack.api).origin, new URL(stack.web).origin].sort(), 'no CDN');
    await page.evaluate(AXE);
    const violations = await page.evaluate(async () => {
      const result = await window.axe.run({ include: [['header'], ['footer'], ['#main > h1'], ['#main > p']] },
        { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
      return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
    });
    assert.deepEqual(serious(violations), [], 'the DSFR frame has no serious axe violations');
    await context.close();
  });

  test('the vendored renderer is the pinned npm package, not a hand copy', () => {
    const pkg = JSON.parse(readFileSync(join(WEB, 'package.json'), 'utf8'));
    const installed = JSON.parse(readFileSync(join(WEB, 'node_modules', 'swagger-ui-dist', 'package.json'), 'utf8'));
    assert.equal(pkg.dependencies['swagger-ui-dist'], installed.version);
    const vendored = readFileSync(join(WEB, 'vendor', 'swagger-ui', 'swagger-ui-bundle.js'), 'utf8');
    const original = readFileSync(join(WEB, 'node_modules', 'swagger-ui-dist', 'swagger-ui-bundle.js'), 'utf8');
    assert.equal(vendored.trimEnd(), original.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '').trimEnd());
  });
});
