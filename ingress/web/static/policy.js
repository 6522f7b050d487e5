// @ts-check
// The deployment's severity levels, most severe first: the default
// policy's until GET /api/v1/policy answers (loadPolicy, once after
// sign-in); levels seen in the data are added too (see noteSeverity).
import { api } from './api.js';

/** @type {string[]} */
export const severities = ['SEV1', 'SEV2', 'SEV3', 'SEV4'];

/** loadPolicy reads the levels; on any failure the defaults stay. */
export async function loadPolicy() {
  try {
    /** @type {{ data: { severities?: unknown } | null }} */
    const p = await api('GET', '/policy');
    const list = p.data && p.data.severities;
    if (Array.isArray(list) && list.length > 0) {
      severities.length = 0;
      for (const x of list) if (typeof x === 'string') severities.push(x);
    }
  } catch (_) {
    // Keep the default levels; the pages still work.
  }
}

/**
 * noteSeverity adds a level seen in the data.
 * @param {string | undefined} sev
 */
export function noteSeverity(sev) {
  if (sev && !severities.includes(sev)) severities.push(sev);
}

/**
 * sevIndex is the level's colour: 0 to 3 by rank, 9 for an unknown one.
 * @param {string | undefined} sev
 */
export function sevIndex(sev) {
  const i = severities.indexOf(sev || '');
  return i < 0 ? 9 : Math.min(i, 3);
}
