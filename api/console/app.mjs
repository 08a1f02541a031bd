// The curator console: sign in with a curator token, list boosts, edit a draft, preview
// it on personas' feeds, publish it, expire boosts, see where boosted offers are.

import * as api from './api.mjs';
import { Editor } from './form.mjs';
import { renderPreview } from './preview.mjs';
import { boostTable, departmentList, h, shown } from './views.mjs';

const $ = (id) => document.getElementById(id);

const state = {
  boosts: [],
  subLabels: new Map(),
  catLabels: new Map(),
  editor: null,
};

/** Says something in the status line (read by screen readers). */
function say(text) {
  $('status').textContent = text;
  $('status').classList.add('shown');
  clearTimeout(say.timer);
  say.timer = setTimeout(() => $('status').classList.remove('shown'), 6000);
}

function filterValue() {
  return document.querySelector('input[name="show"]:checked').value;
}

function renderBoosts() {
  const items = state.boosts.filter((b) => shown(b, filterValue()));
  $('boost-list').replaceChildren(boostTable(items, {
    subLabels: state.subLabels,
    onEdit: (b) => {
      state.editor.edit(b);
      $('editor-title').scrollIntoView({ block: 'start' });
      $('weight').focus();
    },
    onExpire: async (b) => {
      try {
        await api.expireBoost(b.id);
        say(`Boost n° ${b.id} expiré.`);
        if (state.editor.editing?.id === b.id) state.editor.reset();
        await refresh();
      } catch (e) {
        say(e.message);
      }
    },
  }));
}

async function refreshMap() {
  try {
    $('departments').replaceChildren(departmentList(await api.departments()));
  } catch (e) {
    $('departments').replaceChildren(h('p', { class: 'error' }, e.message));
  }
}

async function refresh() {
  state.boosts = await api.listBoosts();
  renderBoosts();
  await refreshMap();
}

function signedIn(yes) {
  $('signin-section').hidden = yes;
  $('workspace').hidden = !yes;
  $('session').hidden = !yes;
}

async function enter() {
  const categories = await api.taxonomy();
  for (const c of categories) {
    state.catLabels.set(c.id, c.label);
    for (const s of c.subcategories) state.subLabels.set(s.id, s.label);
  }
  state.editor.setTaxonomy(categories);
  await refresh();
  signedIn(true);
}

async function signIn(event) {
  event.preventDefault();
  const t = $('token').value.trim();
  $('signin-error').textContent = '';
  if (!t) {
    $('signin-error').textContent = 'Saisissez votre jeton.';
    $('token').focus();
    return;
  }
  api.token.set(t);
  try {
    await enter();
    $('token').value = '';
    say('Connecté·e.');
    $('boosts-title').focus();
  } catch (e) {
    api.token.clear();
    signedIn(false);
    $('signin-error').textContent = e.message;
    $('token').focus();
  }
}

function showError(e) {
  $('editor-error').textContent = e.message;
}

async function preview(event) {
  event.preventDefault();
  $('editor-error').textContent = '';
  let request;
  try {
    request = state.editor.previewRequest();
  } catch (e) {
    showError(e);
    return;
  }
  const root = $('preview');
  root.setAttribute('aria-busy', 'true');
  root.replaceChildren(h('p', {}, 'Calcul de l\'aperçu…'));
  try {
    renderPreview(root, await api.previewBoost(request), state.catLabels);
  } catch (e) {
    root.replaceChildren(h('p', { class: 'error' }, e.message));
  } finally {
    root.setAttribute('aria-busy', 'false');
  }
}

async function publish() {
  $('editor-error').textContent = '';
  try {
    const draft = state.editor.draft();
    const editing = state.editor.editing;
    const saved = editing ? await api.updateBoost(editing.id, draft) : await api.createBoost(draft);
    say(editing ? `Boost n° ${saved.id} modifié.` : `Boost n° ${saved.id} publié.`);
    // Further previews compare against the published boost, not on top of it.
    state.editor.edit(saved);
    await refresh();
  } catch (e) {
    showError(e);
  }
}

function signOut() {
  api.token.clear();
  state.boosts = [];
  $('boost-list').replaceChildren();
  signedIn(false);
  $('token').focus();
}

function main() {
  state.editor = new Editor();
  $('signin').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('editor').addEventListener('submit', preview);
  $('publish-button').addEventListener('click', publish);
  $('cancel-edit').addEventListener('click', () => state.editor.reset());
  $('new-boost').addEventListener('click', () => {
    state.editor.reset();
    $('offer-search').focus();
  });
  $('refresh-map').addEventListener('click', refreshMap);
  for (const r of document.querySelectorAll('input[name="show"]')) r.addEventListener('change', renderBoosts);
  if (api.token.get()) {
    enter().catch(() => signOut());
  } else {
    signedIn(false);
  }
}

main();
