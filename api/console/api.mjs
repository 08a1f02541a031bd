// The curator API as the console calls it: the token from sessionStorage, JSON in and
// out, problems (application/problem+json) turned into errors with a French message.

const KEY = 'mosaic.curatorToken';

/** The curator token of this tab. */
export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

const MESSAGES = {
  unauthorized: 'Jeton inconnu ou révoqué.',
  forbidden: "Ce jeton n'a pas le rôle curateur.",
  boost_expired: 'Ce boost a été expiré : il ne peut plus être modifié.',
  payload_too_large: 'Requête trop volumineuse.',
};

/** A refused call: its HTTP status, the problem's code and a French message. */
export class ApiError extends Error {
  constructor(status, problem) {
    const code = problem?.code ?? 'network';
    const detail = problem?.detail ?? '';
    const message = MESSAGES[code]
      ?? (status === 404 ? `Introuvable : ${detail}`
        : status >= 500 ? 'Erreur du serveur, réessayez.'
          : `Refusé : ${detail}`);
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  const t = token.get();
  if (t) headers.authorization = `Bearer ${t}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { code: 'network', detail: 'serveur injoignable' });
  }
  const data = (r.headers.get('content-type') ?? '').includes('json') ? await r.json() : null;
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

const BOOSTS = '/v1/curator/boosts';

export const listBoosts = () => call('GET', BOOSTS).then((b) => b.items);
export const createBoost = (draft) => call('POST', BOOSTS, draft);
export const updateBoost = (id, draft) => call('PUT', `${BOOSTS}/${id}`, draft);
export const expireBoost = (id) => call('POST', `${BOOSTS}/${id}/expire`, {});
export const previewBoost = (request) => call('POST', `${BOOSTS}/preview`, request);
export const departments = () => call('GET', `${BOOSTS}/departments`);
export const taxonomy = () => call('GET', '/v1/curator/taxonomy').then((t) => t.categories);

/** Offers matching `q`, from the app's search (no token needed). */
export function search(q, limit = 8) {
  const params = new URLSearchParams({ q, limit: String(limit) });
  return call('GET', `/v1/search?${params}`).then((p) => p.items);
}
