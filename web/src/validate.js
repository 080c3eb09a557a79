// Client-side checks with the API's own rules (RULES, generated from chalicelib/http/contract.py,
// chalicelib/rules/identity_keys.py and the server's e-mail rule, chalicelib/rules/email_address.py),
// keyed by the same dotted field paths as the API's 422 details.field, so both land in one place.
import { RULES } from './contract.js';

export const DOC_PATTERNS = Object.fromEntries(
  Object.entries(RULES.documentPatterns).map(([kind, source]) => [kind, new RegExp(source)]));
const EMAIL = new RegExp(RULES.email);
const PHONE = new RegExp(RULES.phone);
const MAX = RULES.maxLength;

export function normaliseDocument(number) {
  return String(number || '').replace(/[\s.\-/]/g, '').toUpperCase();
}

function isoDate(value) {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(value || '') || value < RULES.dateMin || value > RULES.dateMax) return null;
  const d = new Date(`${value}T00:00:00Z`);
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value ? null : d;
}

export function todayIso() {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
}

/** { 'applicant.document.number': ['err.agdref'], ... } — message keys (and params) per field. */
export function validateApplicant(a) {
  const errors = {};
  const add = (field, key, params) => { if (!errors[field]) errors[field] = [key, params]; };
  if (!RULES.documentTypes.includes(a.docType)) add('applicant.document.type', 'err.docType');
  const number = normaliseDocument(a.docNumber);
  if (!number) add('applicant.document.number', 'err.required');
  else if (DOC_PATTERNS[a.docType] && !DOC_PATTERNS[a.docType].test(number)) add('applicant.document.number', `err.${a.docType}`);
  const birth = isoDate(a.birthDate);
  const today = todayIso();
  if (!a.birthDate) add('applicant.birth_date', 'err.required');
  else if (!birth || a.birthDate >= today || Number(a.birthDate.slice(0, 4)) < Number(today.slice(0, 4)) - 130) add('applicant.birth_date', 'err.birth');
  const text = (field, value, max) => {
    const v = String(value || '').trim();
    if (!v) add(field, 'err.required');
    else if (v.length > max) add(field, 'err.tooLong', { max });
  };
  text('applicant.family_name', a.familyName, MAX.family_name);
  text('applicant.given_names', a.givenNames, MAX.given_names);
  text('applicant.email', a.email, MAX.email);
  if (String(a.email || '').trim() && !EMAIL.test(String(a.email).trim())) add('applicant.email', 'err.email');
  const phone = String(a.phone || '').trim();
  if (phone && (phone.length > MAX.phone || !PHONE.test(phone))) add('applicant.phone', 'err.phone');
  return errors;
}

export function validateRange(r, today = todayIso()) {
  const errors = {};
  if (!isoDate(r.from)) errors.from = ['err.date'];
  else if (r.from < today) errors.from = ['err.from.past'];
  if (!isoDate(r.to)) errors.to = ['err.date'];
  else if (isoDate(r.from) && r.to < r.from) errors.to = ['err.range'];
  if (r.permitExpiresOn && !isoDate(r.permitExpiresOn)) errors.permit_expires_on = ['err.date'];
  return errors;
}

/** The API body's applicant object from the form values. */
export function applicantBody(a) {
  const body = {
    document: { type: a.docType, number: normaliseDocument(a.docNumber) },
    birth_date: a.birthDate,
    family_name: String(a.familyName).trim(),
    given_names: String(a.givenNames).trim(),
    email: String(a.email).trim(),
  };
  if (String(a.phone || '').trim()) body.phone = String(a.phone).trim();
  return body;
}
