/** The sample's single page; it talks to the JSON API with fetch, so the session cookie does the rest. */
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
  #error { color: #b00020; min-height: 1.5em; }
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
<p id="error" role="alert"></p>
<script>
async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  const json = await res.json().catch(() => ({}));
  document.getElementById('error').textContent = res.ok ? '' : (json.message || res.statusText);
  return json;
}
function render(state) {
  document.getElementById('user').textContent = state.user ? state.user.name : 'nobody';
  document.getElementById('views').textContent = String(state.views ?? 0);
  const cart = document.getElementById('cart');
  cart.replaceChildren(...(state.cart || []).map((i) => { const li = document.createElement('li'); li.textContent = i.name + ' × ' + i.qty; return li; }));
}
async function refresh() { render(await api('GET', '/api/me')); }
document.getElementById('login').addEventListener('submit', async (e) => { e.preventDefault(); await api('POST', '/api/login', { name: document.getElementById('name').value }); refresh(); });
document.getElementById('add').addEventListener('submit', async (e) => { e.preventDefault(); await api('POST', '/api/cart', { item: document.getElementById('item').value }); document.getElementById('item').value = ''; refresh(); });
document.getElementById('logout').addEventListener('click', async () => { await api('POST', '/api/logout'); refresh(); });
const everywhere = document.getElementById('logout-everywhere');
if (everywhere) everywhere.addEventListener('click', async () => { await api('POST', '/api/logout-everywhere'); refresh(); });
refresh();
</script>
</body>
</html>`;
}
