// The draw verification page (draws.html, src/verify.js): anyone lists a site's draws and replays
// one in Chromium with WebCrypto; a record altered on the way is rejected; axe finds nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { apiCall, axeAudit, launchBrowser, newIdentity, newPage, staffToken, startStack } from './harness.mjs';

let stack;
let browser;
const siteId = `verify-${Date.now()}`;
const procedureId = 'renewal';
const staff = { Authorization: `Bearer ${staffToken()}` };

async function drawnSite() {
  const day = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
  const created = await apiCall(stack.api, 'POST', '/staff/sites', { headers: staff, body: { site_id: siteId, name: 'Préfecture vérifiable',
    address: '1 rue de la Loi, 34000 Montpellier', timezone: 'Europe/Paris', procedures: [{ procedure_id: procedureId, name: 'Renouvellement' }] } });
  assert.equal(created.status, 201, JSON.stringify(created.data));
  const policy = await apiCall(stack.api, 'PUT', `/staff/sites/${siteId}/procedures/${procedureId}/policy`,
    { headers: staff, body: { allocation: 'draw', offer_ttl_seconds: 600, identity_check: 'none' } }); // proofs are another test's
  assert.equal(policy.status, 200, JSON.stringify(policy.data));
  const schedule = await apiCall(stack.api, 'POST', `/staff/sites/${siteId}/schedules`, { headers: staff, body: { procedure_id: procedureId,
    from: day(2), to: day(2), weekdays: [0, 1, 2, 3, 4, 5, 6], opens: '09:00', closes: '12:00', slot_minutes: 60, counters: 1, publish: 'now' } });
  assert.equal(schedule.status, 201, JSON.stringify(schedule.data));
  for (let n = 0; n < 5; n += 1) {
    const filed = await apiCall(stack.api, 'POST', '/requests', { headers: { 'X-Forwarded-For': `203.0.113.${n + 1}` },
      body: { site_id: siteId, procedure_id: procedureId, applicant: newIdentity(), from: day(1), to: day(30) } });
    assert.equal(filed.status, 201, JSON.stringify(filed.data));
  }
  const ran = await apiCall(stack.api, 'POST', `/staff/sites/${siteId}/procedures/${procedureId}/draws`,
    { headers: staff, body: { reason: 'Démonstration de la vérification' } });
  assert.equal(ran.status, 200, JSON.stringify(ran.data));
  assert.equal(ran.data.offered, 3);
}

async function verifyOnPage(page) {
  await page.goto(`${stack.web}draws.html?site=${siteId}&procedure=${procedureId}`);
  await page.waitForSelector('body[data-verify="ready"]', { timeout: 20000 });
  await page.click('#choose button[type="submit"]');
  await page.waitForSelector('button[data-draw]', { timeout: 20000 });
  await page.click('button[data-draw]');
  await page.waitForSelector('#verdict', { timeout: 20000 });
  return {
    ok: await page.getAttribute('#verdict', 'data-ok'),
    rows: await page.$$eval('#result tbody tr', (trs) => trs.map((tr) => tr.dataset.ok)),
    text: await page.textContent('#result'),
  };
}

describe('verifying a draw in the browser', () => {
  before(async () => {
    stack = await startStack();
    browser = await launchBrowser();
    await drawnSite();
  });

  after(async () => {
    if (browser) await browser.close();
    if (stack) await stack.stop();
  });

  test('every offer of a published draw follows from its seed, commitment and entrants; axe finds nothing', async () => {
    const page = await newPage(browser, { mobile: false });
    try {
      const result = await verifyOnPage(page);
      assert.equal(result.ok, 'true', result.text);
      assert.deepEqual(result.rows, ['true', 'true', 'true']);
      assert.match(result.text, /Démonstration de la vérification/);
      assert.deepEqual(await axeAudit(page), []);
      assert.deepEqual(page.consoleErrors, []);
    } finally {
      await page.context().close();
    }
  });

  for (const [name, part, alter] of [
    ['an offer moved to another slot', 'allocation', (items) => { const [a, b] = items; [a[1], b[1]] = [b[1], a[1]]; }],
    ['an entrant moved to the urgent tier', 'entrants', (items) => { items[0].tier = items[0].tier === 1 ? 2 : 1; }],
    ['an entrant removed', 'entrants', (items) => { items.pop(); }],
  ]) {
    test(`a record altered on the way is rejected: ${name}`, async () => {
      const page = await newPage(browser, { mobile: false });
      try {
        await page.route(`**/draws/*/record?part=${part}*`, async (route) => {
          const response = await route.fetch();
          const body = await response.json();
          alter(body.items);
          await route.fulfill({ response, json: body });
        });
        const result = await verifyOnPage(page);
        assert.equal(result.ok, 'false', result.text);
        assert.match(result.text, /rejeté/);
        assert.deepEqual(await axeAudit(page), []);
      } finally {
        await page.context().close();
      }
    });
  }
});
