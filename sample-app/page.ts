import { FRESH_AUTH_SECONDS } from './account';

/**
 * The sample's single page; it talks to the JSON API with fetch, so the session cookie does the rest.
 * Each action makes one request and renders its answer; an error stays on the page until the next action.
 * The "DynamoDB calls" panel is a demo aid (sample-app/dynamodb-calls.ts): it shows what each request cost.
 * Text from the server (names, items, user agents) goes in with textContent only, never as HTML.
 */
export function samplePage(framework: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>dynamo-session sample (${framework})</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #1d2330; }
  section { border: 1px solid #d5dae3; border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
  input, button { font: inherit; padding: .35rem .6rem; }
  #error { color: #b00020; min-height: 1.5em; overflow-wrap: anywhere; }
  #calls { background: #f6f8fb; }
  #calls h2 { font-size: 1rem; margin: 0 0 .25rem; }
  #calls ul { margin: .25rem 0; padding-left: 1.25rem; font-family: ui-monospace, monospace; font-size: .9rem; }
  #calls p { margin: .25rem 0; }
  #calls .note { color: #5a6275; font-size: .85rem; }
  #calls button { font-size: .85rem; padding: .15rem .45rem; }
  #devices li { margin: .25rem 0; overflow-wrap: anywhere; }
  #devices .seen { color: #5a6275; font-size: .85rem; }
  #devices button { font-size: .85rem; padding: .15rem .45rem; margin-left: .5rem; }
  #reauth { background: #fff8e1; border-radius: 6px; padding: .5rem .75rem; margin-top: .5rem; }
</style>
</head>
<body>
<h1>dynamo-session sample <small>(${framework})</small></h1>
<p>Sessions are stored in DynamoDB: restart the server and your cart is still here.</p>
<section id="who">
  <p>Signed in as: <strong id="user">nobody</strong> · page views this session: <strong id="views">0</strong></p>
  <form id="login"><input id="name" name="name" placeholder="Your name" autocomplete="off"> <button>Log in</button></form>
  <button id="logout">Log out</button> <button id="logout-everywhere">Sign out everywhere</button>
</section>
<section>
  <h2>Cart</h2>
  <ul id="cart"></ul>
  <form id="add"><input id="item" name="item" placeholder="Item" autocomplete="off"> <button>Add to cart</button></form>
</section>
<section id="account">
  <h2>E-mail</h2>
  <p>Your e-mail: <strong id="email-shown">none</strong></p>
  <form id="email"><input id="email-address" name="email" type="email" placeholder="new@example.com" autocomplete="off"> <button>Change e-mail</button></form>
  <form id="reauth" hidden>
    <p id="reauth-why">Changing your e-mail needs a login within the last ${FRESH_AUTH_SECONDS / 60} minutes. Enter your name again to confirm it is you.</p>
    <input id="reauth-name" name="name" placeholder="Your name" autocomplete="off"> <button>Confirm and change</button>
    <button id="reauth-cancel" type="button">Cancel</button>
  </form>
</section>
<section id="devices-panel">
  <h2>Your devices</h2>
  <p id="devices-empty">No other device is signed in as you.</p>
  <ul id="devices"></ul>
  <button id="devices-refresh" type="button">Refresh</button> <button id="sign-out-others" type="button">Sign out other devices</button>
</section>
<p id="error" role="alert"></p>
<section id="calls" aria-live="polite">
  <h2>DynamoDB calls of the last request</h2>
  <p><code id="calls-request">none yet</code>: <strong id="calls-summary"></strong></p>
  <ul id="calls-list"></ul>
  <p class="note">Also try <button id="try-health" type="button">GET /health</button> (does not use the session)
    and <button id="try-read" type="button">GET /api/cart</button> (reads it, changes nothing).</p>
  <p class="note">Recorded by a demo middleware on the sample's DynamoDB client (sample-app/dynamodb-calls.ts), not by the library.</p>
</section>
<script>
const $ = (id) => document.getElementById(id);
/** The calls panel: requests started, and the latest one whose calls it shows. */
let started = 0;
let shown = 0;

/**
 * One API request, sent with an id the calls panel then asks about. Throws the server's message on an error
 * status, with the status as the error's status property (a 401 from "change e-mail" asks for the name again).
 */
async function api(method, path, body) {
  const id = Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 12);
  const order = ++started; // the panel shows the request that started last, whichever answers last
  const headers = { 'x-sample-request': id };
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
  const text = await res.text();
  let json = {};
  try { json = JSON.parse(text); } catch { /* Koa answers its errors in plain text */ }
  await showCalls(method + ' ' + path, id, order);
  if (!res.ok) throw Object.assign(new Error(res.status + ' ' + (json.message || text || res.statusText)), { status: res.status });
  return json;
}

/** Runs a user action: the previous action's error goes when this one starts, this one's stays until the next. */
function onAction(element, event, action) {
  if (!element) return;
  element.addEventListener(event, async (e) => {
    e.preventDefault();
    $('error').textContent = '';
    try {
      await action();
    } catch (err) {
      $('error').textContent = err.message;
    }
  });
}

/** Whether the page shows a signed-in user: only then does a 401 from "change e-mail" ask for the name again. */
let signedIn = false;
/** Renders what an answer carries; fields it does not carry stay as they are. */
function render(state) {
  if ('user' in state) {
    signedIn = Boolean(state.user);
    $('user').textContent = state.user ? state.user.name : 'nobody';
    if (!state.user) { renderDevices([]); $('reauth').hidden = true; }
  }
  if ('email' in state) $('email-shown').textContent = state.email || 'none';
  if ('views' in state) $('views').textContent = String(state.views ?? 0);
  if ('cart' in state) {
    $('cart').replaceChildren(...(state.cart || []).map((i) => { const li = document.createElement('li'); li.textContent = i.name + ' × ' + i.qty; return li; }));
  }
}
const signedOut = { user: null, cart: [], views: 0, email: null };

/** "Your devices": the user's other sessions, each with its own "Sign out". */
function renderDevices(devices) {
  $('devices').replaceChildren(...devices.map((device) => {
    const li = document.createElement('li');
    li.dataset.handle = device.handle;
    const agent = document.createElement('span');
    agent.className = 'agent';
    agent.textContent = device.userAgent || 'unknown browser';
    const seen = document.createElement('span');
    seen.className = 'seen';
    seen.textContent = (device.ip ? ' · ' + device.ip : '') + ' · last seen ' + new Date(device.lastSeenAt).toLocaleString();
    const signOut = document.createElement('button');
    signOut.type = 'button';
    signOut.className = 'sign-out';
    signOut.textContent = 'Sign out';
    onAction(signOut, 'click', async () => {
      try {
        await api('POST', '/api/devices/sign-out', { handle: device.handle });
      } catch (err) {
        if (err.status === 404) await loadDevices(); // signed out already, or expired: show what is left
        throw err;
      }
      li.remove(); // not listed again: the index behind the list may lag the sign-out by a moment
      $('devices-empty').hidden = $('devices').children.length > 0;
    });
    li.append(agent, seen, signOut);
    return li;
  }));
  $('devices-empty').hidden = devices.length > 0;
}
async function loadDevices() {
  renderDevices((await api('GET', '/api/devices')).devices);
}

async function showCalls(request, id, order) {
  let summary;
  let lines = [];
  try {
    const res = await fetch('/api/calls/' + encodeURIComponent(id));
    const json = await res.json();
    if (!res.ok) throw new Error(json.message || res.statusText);
    const counts = new Map();
    for (const call of json.calls) counts.set(call.operation, (counts.get(call.operation) || 0) + 1);
    summary = json.calls.length === 0 ? '0 calls' : [...counts].map(([operation, n]) => n + ' ' + operation).join(' + ');
    lines = json.calls.map(describeCall);
  } catch (err) {
    summary = 'not recorded (' + err.message + ')';
  }
  if (order < shown) return; // a later request's calls are shown already
  shown = order;
  $('calls-request').textContent = request;
  $('calls-summary').textContent = summary;
  $('calls-list').replaceChildren(...lines.map((text) => { const li = document.createElement('li'); li.textContent = text; return li; }));
}
function describeCall(call) {
  const parts = [call.operation];
  if (call.readUnits !== undefined) parts.push(call.readUnits + ' RCU');
  if (call.writeUnits !== undefined) parts.push(call.writeUnits + ' WCU');
  const indexes = Object.entries(call.indexUnits || {}).filter(([, units]) => units > 0);
  if (indexes.length) parts[parts.length - 1] += ' (' + indexes.map(([name, units]) => units + ' for ' + name).join(', ') + ')';
  if (call.part) parts.push('item of ' + call.part);
  if (call.wholeSession) parts.push('new item with ' + (call.sets.join(', ') || 'no attributes'));
  else if (call.sets && call.sets.length) parts.push('sets ' + call.sets.join(', '));
  if (call.removes && call.removes.length) parts.push('removes ' + call.removes.join(', '));
  if (call.operation === 'UpdateItem' && !call.wholeSession && !call.sets.length && !call.removes.length) parts.push('expiry and version only');
  if (call.failed) parts.push('failed: ' + call.failed);
  return parts.join(' · ');
}

onAction($('login'), 'submit', async () => {
  render(await api('POST', '/api/login', { name: $('name').value }));
  await loadDevices();
});
onAction($('add'), 'submit', async () => {
  render(await api('POST', '/api/cart', { item: $('item').value }));
  $('item').value = '';
});
onAction($('logout'), 'click', async () => { await api('POST', '/api/logout'); render(signedOut); });
onAction($('logout-everywhere'), 'click', async () => { await api('POST', '/api/logout-everywhere'); render(signedOut); });
onAction($('devices-refresh'), 'click', loadDevices);
onAction($('sign-out-others'), 'click', async () => {
  await api('POST', '/api/devices/sign-out-others');
  renderDevices([]);
});
/** Changes the e-mail; a 401 (no login within the last minutes) asks for the name again, and the change waits for it. */
async function changeEmail() {
  try {
    render(await api('POST', '/api/email', { email: $('email-address').value }));
  } catch (err) {
    if (err.status !== 401 || !signedIn) throw err; // nobody to confirm: the message says to log in
    $('reauth').hidden = false;
    $('reauth-name').focus();
    return;
  }
  $('reauth').hidden = true;
  $('email-address').value = '';
}
onAction($('email'), 'submit', changeEmail);
onAction($('reauth'), 'submit', async () => {
  render(await api('POST', '/api/reauth', { name: $('reauth-name').value }));
  $('reauth-name').value = '';
  await changeEmail(); // the change it asked for, now with a fresh login
});
onAction($('reauth-cancel'), 'click', () => { $('reauth').hidden = true; });
onAction($('try-health'), 'click', () => api('GET', '/health'));
onAction($('try-read'), 'click', async () => render(await api('GET', '/api/cart')));
// The page view: counts one in the session, and shows who is signed in and the cart.
(async () => {
  try {
    const me = await api('GET', '/api/me');
    render({ ...signedOut, ...me });
    if (me.user) await loadDevices();
  } catch (err) {
    $('error').textContent = err.message;
  }
})();
</script>
</body>
</html>`;
}
