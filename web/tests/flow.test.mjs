// The booking flow as a person uses it, in Chromium against the real local stack: every step has
// an address and survives a reload, Back walks back, dates cannot be in the past, a live hold can
// be resumed or released, and the words say what will happen. Each screen passes axe.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  apiCall, axeAudit, emlText, launchBrowser, newIdentity, newPage, screenshot, setPolicy, staffToken, startStack,
} from './harness.mjs';

let stack;
let browser;
let target;

async function auditNone(page, name) {
  const violations = await axeAudit(page);
  if (violations.length) await screenshot(page, `flow-axe-${name}`);
  assert.deepEqual(violations, [], `${name}: ${JSON.stringify(violations, null, 1)}`);
}

async function open(page, path = '') {
  await page.goto(stack.web + path);
  await page.waitForSelector('#site:enabled', { timeout: 15000 });
}

async function chooseProcedure(page, { siteId, procedureId } = target) {
  await page.selectOption('#site', siteId);
  await page.selectOption('#procedure', procedureId);
  await page.click('#site-continue');
}

async function fillDate(page, id, iso) {
  const [y, m, d] = iso.split('-');
  await page.fill(`#${id}`, String(Number(d)));
  await page.fill(`#${id}-month`, String(Number(m)));
  await page.fill(`#${id}-year`, y);
}

async function fillIdentity(page, who) {
  await page.check(`#doctype-${who.document.type}`);
  await page.fill('#f-applicant-document-number', who.document.number);
  await fillDate(page, 'f-applicant-birth_date', who.birth_date);
  await page.fill('#f-applicant-family_name', who.family_name);
  await page.fill('#f-applicant-given_names', who.given_names);
  await page.fill('#f-applicant-email', who.email);
}

const stepOf = (page) => page.evaluate(() => location.hash.replace(/\?.*$/, ''));
const flow = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem('fairslot.flow.v1') || '{}'));
const parisDay = (offsetDays = 0) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Paris' }).format(new Date(Date.now() + offsetDays * 86400000));

/** Up to the confirm step: a live hold made through the app. */
async function holdThroughUi(page, who = newIdentity()) {
  await open(page);
  await chooseProcedure(page);
  await page.waitForSelector('.slot-btn', { timeout: 15000 });
  await page.locator('.slot-btn').first().click();
  await page.waitForSelector('form[data-form="identity"]');
  await fillIdentity(page, who);
  await page.click('#identity-submit');
  await page.waitForSelector('#countdown', { timeout: 15000 });
  return who;
}

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
  const { data } = await apiCall(stack.api, 'GET', '/sites');
  const site = data.sites.find((s) => s.procedures.some((p) => p.allocation !== 'draw'));
  const procedure = site.procedures.find((p) => p.allocation !== 'draw');
  target = { siteId: site.site_id, procedureId: procedure.procedure_id };
  // Holds from 127.0.0.1 only: lift the per-IP hourly limit; identities unchecked here (the code
  // step has its own test below), where the API knows the policy field.
  await setPolicy(stack.api, target.siteId, target.procedureId, { max_holds_per_ip_per_hour: 10000, identity_check: 'none' })
    .catch(() => setPolicy(stack.api, target.siteId, target.procedureId, { max_holds_per_ip_per_hour: 10000 }));
});

after(async () => {
  if (browser) await browser.close();
  if (stack) await stack.stop();
});

describe('the booking flow survives what people do', () => {
  test('every step has its own address and a reload at each step shows the same step, with what was typed', async () => {
    const page = await newPage(browser);
    try {
      await open(page);
      assert.equal(await stepOf(page), '#/');
      await chooseProcedure(page);
      await page.waitForSelector('.slot-btn', { timeout: 15000 });
      assert.equal(await stepOf(page), '#/slot');
      assert.match(await page.textContent('.fr-stepper__state'), /Étape 2 sur 4/);
      await page.reload();
      await page.waitForSelector('.slot-btn', { timeout: 15000 });
      assert.equal(await stepOf(page), '#/slot');
      await auditNone(page, 'slot');
      await page.locator('.slot-btn').first().click();
      await page.waitForSelector('form[data-form="identity"]');
      assert.equal(await stepOf(page), '#/identity');
      assert.match(await page.textContent('.fr-stepper__state'), /Étape 3 sur 4/);
      const who = newIdentity();
      await fillIdentity(page, who);
      await page.reload();
      await page.waitForSelector('form[data-form="identity"]');
      assert.equal(await page.inputValue('#f-applicant-document-number'), who.document.number);
      assert.equal(await page.inputValue('#f-applicant-email'), who.email);
      assert.equal(await page.inputValue('#f-applicant-birth_date-year'), who.birth_date.slice(0, 4));
      await page.click('#identity-submit');
      await page.waitForSelector('#countdown', { timeout: 15000 });
      assert.equal(await stepOf(page), '#/confirm');
      assert.match(await page.textContent('.fr-stepper__state'), /Étape 4 sur 4/);
      assert.match(await page.textContent('#countdown-deadline'), /À confirmer avant \d{2}:\d{2}/);
      const held = (await flow(page)).hold;
      assert.ok(held && held.hold_id && held.hold_token && held.expires_at, 'the live hold is kept for the tab');
      await page.reload();
      await page.waitForSelector('#countdown', { timeout: 15000 });
      assert.equal((await flow(page)).hold.hold_id, held.hold_id, 'the same hold after a reload');
      await auditNone(page, 'confirm');
      await page.click('#confirm');
      await page.waitForFunction(() => document.getElementById('reference')?.textContent.trim(), null, { timeout: 15000 });
      assert.match(await stepOf(page), /^#\/booking\//);
      const after = await flow(page);
      assert.equal(after.hold, null, 'the hold is dropped once it has become a booking');
      assert.equal(after.applicant.docNumber, '', 'what was typed is dropped with it');
    } finally {
      await page.context().close();
    }
  });

  test('Back walks back through the steps; from a live hold it shows the hold, to resume', async () => {
    const page = await newPage(browser);
    try {
      await holdThroughUi(page);
      await page.goBack();
      await page.waitForSelector('#live-hold');
      assert.equal(await stepOf(page), '#/identity');
      assert.match(await page.textContent('#live-hold'), /bloqué à votre nom jusqu’à \d{2}:\d{2}/);
      await auditNone(page, 'identity-live-hold');
      await page.goBack();
      await page.waitForSelector('.slot-btn', { timeout: 15000 });
      assert.equal(await stepOf(page), '#/slot');
      await page.goBack();
      await page.waitForSelector('#site-continue');
      assert.equal(await stepOf(page), '#/');
      assert.equal(await page.inputValue('#procedure'), target.procedureId);
      await page.click('#resume-hold');
      await page.waitForSelector('#countdown');
      assert.equal(await stepOf(page), '#/confirm');
    } finally {
      await page.context().close();
    }
  });

  test('the day picker starts today in the site\'s time zone, refuses a past day and clears the error once corrected', async () => {
    const page = await newPage(browser);
    try {
      await open(page);
      await chooseProcedure(page);
      await page.waitForSelector('.slot-btn', { timeout: 15000 });
      assert.equal(await page.locator('input[type="date"]').count(), 0, 'one date format: three fields, no native picker');
      await fillDate(page, 'f-day', '2020-01-01');
      await page.click('#day-show');
      await page.waitForSelector('#f-day-messages .fr-message--error');
      assert.match(await page.textContent('#f-day-messages'), /aujourd’hui/);
      assert.doesNotMatch(await page.textContent('#slots-legend'), /2020/);
      await auditNone(page, 'day-past');
      await page.fill('#f-day-year', parisDay(1).slice(0, 4));
      await page.fill('#f-day-month', String(Number(parisDay(1).slice(5, 7))));
      await page.fill('#f-day', String(Number(parisDay(1).slice(8, 10))));
      assert.equal(await page.locator('#f-day-messages .fr-message--error').count(), 0, 'the error went as soon as the day was right');
      await page.click('#day-show');
      await page.waitForFunction(() => !document.querySelector('#slots[aria-busy]'));
      const shown = await page.evaluate(() => JSON.parse(sessionStorage.getItem('fairslot.flow.v1')).day);
      assert.equal(shown, parisDay(1));
      // "Next available day" looks from today: never before it.
      if (await page.locator('#find-next').count()) {
        await page.click('#find-next');
        await page.waitForSelector('.slot-btn', { timeout: 15000 });
      }
      const day = await page.evaluate(() => JSON.parse(sessionStorage.getItem('fairslot.flow.v1')).day);
      assert.ok(day >= parisDay(0), `${day} is today or later`);
    } finally {
      await page.context().close();
    }
  });

  test('a second hold for the same identity offers to resume the live one, or to release it at its stated cost', async () => {
    const page = await newPage(browser);
    try {
      const who = await holdThroughUi(page);
      const held = (await flow(page)).hold;
      await page.goBack(); // identity
      await page.goBack(); // slots
      await page.waitForSelector('.slot-btn', { timeout: 15000 });
      await page.locator('.slot-btn').nth(1).click();
      await page.waitForSelector('form[data-form="identity"]');
      assert.equal(await page.inputValue('#f-applicant-document-number'), who.document.number);
      await page.click('#identity-submit');
      await page.waitForSelector('#live-hold[role="alert"]', { timeout: 15000 });
      const text = await page.textContent('#live-hold');
      assert.match(text, /déjà un créneau réservé/);
      assert.match(text, /ne pourrez alors plus réserver pendant 1\s+jour/);
      await auditNone(page, 'hold-conflict');
      await page.click('#resume-hold');
      await page.waitForSelector('#countdown');
      assert.equal((await flow(page)).hold.hold_id, held.hold_id);
      // Back to the conflict, and this time let it go.
      await page.goBack();
      await page.waitForSelector('#release-live-hold');
      await page.click('#release-live-hold');
      await page.waitForSelector('#page-alert');
      assert.equal(await stepOf(page), '#/');
      assert.match(await page.getAttribute('#page-alert', 'class'), /fr-alert--info/);
      assert.match(await page.textContent('#page-alert'), /Vous pourrez réserver à nouveau à partir du/);
      assert.equal((await flow(page)).hold, null, 'the released hold is dropped');
    } finally {
      await page.context().close();
    }
  });

  test('a search that finds nothing has its own standby screen and address, and the step count never changes', async (t) => {
    const siteId = `flow-standby-${Date.now()}`;
    const created = await apiCall(stack.api, 'POST', '/staff/sites', {
      headers: { Authorization: `Bearer ${staffToken()}` },
      body: { site_id: siteId, name: 'Sous-préfecture sans créneau', address: '1 rue de la Paix, 34000 Montpellier', timezone: 'Europe/Paris',
        procedures: [{ procedure_id: 'renewal', name: 'Renouvellement de titre de séjour' }] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.data));
    if (created.data.procedures[0].allocation !== 'auto') { t.skip('no auto allocation on this API'); return; }
    await setPolicy(stack.api, siteId, 'renewal', { identity_check: 'none' }).catch(() => {});
    const page = await newPage(browser);
    try {
      await open(page);
      await chooseProcedure(page, { siteId, procedureId: 'renewal' });
      await page.waitForSelector('#join-standby', { timeout: 20000 });
      assert.equal(await stepOf(page), '#/standby');
      const title = await page.textContent('#view-title');
      assert.match(title, /Aucun créneau pour ces jours-là/);
      assert.doesNotMatch(title, /Créneaux disponibles/);
      assert.match(await page.textContent('#standby-offer'), /tirage au sort/);
      assert.match(await page.textContent('#standby-offer'), /courriel/);
      const total = await page.textContent('.fr-stepper__state');
      await auditNone(page, 'standby');
      await page.reload();
      await page.waitForSelector('#join-standby', { timeout: 20000 });
      await page.click('#join-standby');
      await page.waitForSelector('form[data-form="range"]');
      assert.equal((await page.textContent('.fr-stepper__state')).replace(/\d+ sur/, ''), total.replace(/\d+ sur/, ''));
      await fillDate(page, 'f-from', '2020-01-01');
      await fillDate(page, 'f-to', parisDay(3));
      await page.click('form[data-form="range"] button[type="submit"]');
      await page.waitForSelector('#error-summary');
      assert.match(await page.textContent('#f-from-messages'), /passée/);
      await fillDate(page, 'f-from', parisDay(3));
      assert.equal(await page.locator('#error-summary').count(), 0, 'the summary goes with the last error');
      await page.click('form[data-form="range"] button[type="submit"]');
      await page.waitForSelector('form[data-form="identity"]');
      assert.equal((await page.textContent('.fr-stepper__state')).replace(/\d+ sur/, ''), total.replace(/\d+ sur/, ''));
      await page.goBack();
      await page.waitForSelector('form[data-form="range"]');
      await page.goBack();
      await page.waitForSelector('#join-standby', { timeout: 20000 });
    } finally {
      await page.context().close();
    }
  });

  test('words: errors clear when corrected, English colons, a cancellation as information with its end, a way back everywhere', async () => {
    const page = await newPage(browser);
    try {
      await open(page);
      await page.click('#lang-switch');
      await chooseProcedure(page);
      await page.waitForSelector('.slot-btn', { timeout: 15000 });
      await page.locator('.slot-btn').first().click();
      await page.waitForSelector('form[data-form="identity"]');
      await page.click('#identity-submit');
      await page.waitForSelector('#error-summary');
      const summary = await page.textContent('#error-summary');
      assert.match(summary, /Document number: /);
      assert.doesNotMatch(summary, / : /);
      const who = newIdentity();
      await page.fill('#f-applicant-document-number', who.document.number);
      assert.equal(await page.locator('#f-applicant-document-number[aria-invalid]').count(), 0);
      assert.equal(await page.locator('#f-applicant-document-number-messages .fr-message').count(), 0);
      assert.doesNotMatch(await page.textContent('#error-summary'), /Document number/);
      await page.click('#lang-switch'); // back to French for the rest
      await fillIdentity(page, who);
      await page.click('#identity-submit');
      await page.waitForSelector('#countdown', { timeout: 15000 });
      await page.click('#confirm');
      await page.waitForSelector('#open-cancel', { timeout: 15000 });
      await page.click('#open-cancel');
      await page.click('#cancel-confirm');
      await page.waitForSelector('#page-alert');
      assert.match(await page.getAttribute('#page-alert', 'class'), /fr-alert--info/);
      assert.match(await page.textContent('#page-alert'), /à partir du/);
      assert.match(await page.textContent('#booking-home'), /Retour à l’accueil/);
      assert.doesNotMatch(await page.textContent('#app'), /Prendre un autre rendez-vous/);
      await auditNone(page, 'cancelled');
      // The find page has a way back.
      await page.goto(`${stack.web}#/find`);
      await page.waitForSelector('#find-back');
      await page.click('#find-back');
      await page.waitForSelector('#site-continue');
    } finally {
      await page.context().close();
    }
  });

  test('a malformed link is refused and not stored', async () => {
    const page = await newPage(browser);
    try {
      await page.goto(`${stack.web}#/booking/bkg_123/not-a-token`);
      await page.waitForSelector('#bad-link');
      await auditNone(page, 'bad-link');
      const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('fairslot.v1') || '{}').bookings || {});
      assert.deepEqual(stored, {});
      // Well formed but wrong: refused by the API, then forgotten, never offered on the home page.
      await page.goto(`${stack.web}#/booking/bkg_${'0'.repeat(24)}/${'A'.repeat(43)}`);
      await page.waitForSelector('#page-alert', { timeout: 15000 });
      await open(page, '#/');
      assert.equal(await page.locator('text=Voir mon rendez-vous').count(), 0);
    } finally {
      await page.context().close();
    }
  });
});

/** The newest e-mail to `email` in the outbox that carries a 6-digit code. */
async function codeFromOutbox(outbox, email, since, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const names = existsSync(outbox) ? readdirSync(outbox).filter((n) => n.endsWith('.eml')) : [];
    const fresh = names.map((n) => join(outbox, n)).filter((p) => statSync(p).mtimeMs >= since).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    for (const path of fresh) {
      const raw = readFileSync(path, 'latin1');
      if (!raw.toLowerCase().includes(email.toLowerCase())) continue;
      const m = emlText(raw).match(/\b(\d{6})\b/);
      if (m) return m[1];
    }
    if (Date.now() > deadline) throw new Error(`no code for ${email} in ${outbox}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the one-time code step (R10)', () => {
  test('identity, code from the e-mail, then the hold: one field, resend with a countdown, errors explained', async (t) => {
    const probe = await apiCall(stack.api, 'POST', '/verifications', { body: {} });
    if (probe.status === 404 || probe.status === 405) { t.skip('this API has no /verifications yet'); return; }
    const set = await apiCall(stack.api, 'PUT', `/staff/sites/${target.siteId}/procedures/${target.procedureId}/policy`, {
      body: { identity_check: 'contact' }, headers: { Authorization: `Bearer ${staffToken()}` } });
    assert.ok(set.status < 300, JSON.stringify(set.data));
    const page = await newPage(browser);
    try {
      await open(page);
      await chooseProcedure(page);
      await page.waitForSelector('.slot-btn', { timeout: 15000 });
      await page.locator('.slot-btn').first().click();
      await page.waitForSelector('form[data-form="identity"]');
      const who = newIdentity();
      await fillIdentity(page, who);
      const since = Date.now() - 1000;
      await page.click('#identity-submit');
      await page.waitForSelector('#f-code');
      assert.equal(await stepOf(page), '#/code');
      assert.match(await page.textContent('.fr-stepper__state'), /Étape 4 sur 5/);
      assert.equal(await page.getAttribute('#f-code', 'autocomplete'), 'one-time-code');
      assert.equal(await page.getAttribute('#f-code', 'inputmode'), 'numeric');
      assert.equal(await page.locator('#app input').count(), 1, 'one field');
      assert.ok(await page.isDisabled('#resend-code'));
      assert.match(await page.textContent('#resend-code'), /dans 0:\d\d|dans 01:00|dans 00:\d\d/);
      assert.doesNotMatch(await page.textContent('#app'), /\*\*\*/, 'no masked destination before a correct code');
      await auditNone(page, 'code');
      const code = await codeFromOutbox(stack.outbox, who.email, since);
      const wrong = code === '000000' ? '111111' : '000000';
      await page.fill('#f-code', wrong);
      await page.click('#code-submit');
      await page.waitForSelector('#f-code-messages .fr-message--error', { timeout: 15000 });
      assert.match(await page.textContent('#f-code-messages'), /pas le bon/);
      await page.click('#lang-switch');
      await page.click('#code-submit');
      await page.waitForSelector('#f-code-messages .fr-message--error', { timeout: 15000 });
      assert.match(await page.textContent('#f-code-messages'), /not the right one/);
      await page.click('#lang-switch');
      await page.reload();
      await page.waitForSelector('#f-code');
      // A minute later (moved back in the tab's state), a new code can be asked for.
      await page.evaluate(() => {
        const kept = JSON.parse(sessionStorage.getItem('fairslot.flow.v1'));
        kept.verification.sentAt -= 61000;
        sessionStorage.setItem('fairslot.flow.v1', JSON.stringify(kept));
      });
      await page.reload();
      await page.waitForSelector('#resend-code:enabled');
      const resentSince = Date.now() - 1000;
      await page.click('#resend-code');
      await page.waitForFunction(() => /nouveau code vient/.test(document.getElementById('page-alert')?.textContent || ''), null, { timeout: 15000 });
      assert.ok(await page.isDisabled('#resend-code'), 'the countdown starts again');
      let latest = code;
      const deadline = Date.now() + 15000;
      while (latest === code && Date.now() < deadline) latest = await codeFromOutbox(stack.outbox, who.email, resentSince); // eslint-disable-line no-await-in-loop
      await page.fill('#f-code', latest);
      await page.click('#code-submit');
      await page.waitForSelector('#countdown', { timeout: 15000 });
      assert.equal(await stepOf(page), '#/confirm');
      assert.match(await page.textContent('#page-alert'), /Identité vérifiée/);
      await auditNone(page, 'code-ok');
    } finally {
      await setPolicy(stack.api, target.siteId, target.procedureId, { identity_check: 'none' }).catch(() => {});
      await page.context().close();
    }
  });

  test('a renewal checked against the registry: the code goes to the registry\'s address, shown masked only after the right code', async (t) => {
    const probe = await apiCall(stack.api, 'POST', '/verifications', { body: {} });
    if (probe.status === 404 || probe.status === 405) { t.skip('this API has no /verifications yet'); return; }
    const { data } = await apiCall(stack.api, 'GET', '/sites');
    // A seeded site (the standby test's site has no slot at all).
    const site = data.sites.find((s) => !s.site_id.startsWith('flow-') && s.procedures.some((p) => p.procedure_id === 'renewal' && p.allocation !== 'draw'));
    if (!site) { t.skip('no renewal to book'); return; }
    const renewal = { siteId: site.site_id, procedureId: 'renewal' };
    await setPolicy(stack.api, renewal.siteId, 'renewal', { identity_check: 'registry', max_holds_per_ip_per_hour: 10000 });
    // A person of the demo registry that devlocal.stack writes (devlocal/demo_registry.py).
    const who = { document: { type: 'agdref', number: '3409876543' }, birth_date: '1995-11-03', family_name: 'Nguyen',
      given_names: 'Minh', email: 'typed.elsewhere@example.net' };
    const page = await newPage(browser);
    try {
      await open(page);
      await chooseProcedure(page, renewal);
      await page.waitForSelector('.slot-btn', { timeout: 15000 });
      assert.match(await page.textContent('.fr-stepper__state'), /Étape 2 sur 5/, 'the code step counted from the start');
      await page.locator('.slot-btn').first().click();
      await page.waitForSelector('form[data-form="identity"]');
      await fillIdentity(page, who);
      const since = Date.now() - 1000;
      await page.click('#identity-submit');
      await page.waitForSelector('#f-code');
      assert.match(await page.textContent('#code-where'), /registre/);
      assert.doesNotMatch(await page.textContent('#app'), /example\.org/, 'no destination before the right code');
      const code = await codeFromOutbox(stack.outbox, 'minh.nguyen@example.org', since);
      await page.fill('#f-code', code);
      await page.click('#code-submit');
      await page.waitForSelector('#countdown', { timeout: 15000 });
      const shown = await page.textContent('#page-alert');
      assert.match(shown, /example\.org/);
      assert.doesNotMatch(shown, /minh\.nguyen@/, 'masked');
      await page.click('#confirm');
      await page.waitForFunction(() => document.getElementById('reference')?.textContent.trim(), null, { timeout: 15000 });
    } finally {
      await setPolicy(stack.api, renewal.siteId, 'renewal', { identity_check: 'none' }).catch(() => {});
      await page.context().close();
    }
  });
});
