/**
 * The live dashboard at `/`: one self-contained page (no build step, no CDN). It follows
 * `/stream` with EventSource (which resumes with Last-Event-ID by itself) and reads
 * `/stats` every two seconds for the counts and the consumer lag (records and seconds: the
 * consumer's own readings, the numbers tideline_consumer_lag_records/_seconds export).
 */
export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tideline · orders live</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1b2430; background: #f5f7fa; }
  body { margin: 0 auto; max-width: 1100px; padding: 1.5rem; }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .75rem; margin-bottom: 1rem; }
  .card { background: #fff; border-radius: 8px; padding: .75rem 1rem; box-shadow: 0 1px 2px #0002; }
  .card b { display: block; font-size: 1.6rem; }
  .card span { color: #5b6675; font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; }
  table { width: 100%; border-collapse: collapse; background: #fff; border-radius: 8px; overflow: hidden; box-shadow: 0 1px 2px #0002; }
  th, td { text-align: left; padding: .45rem .75rem; border-bottom: 1px solid #e6e9ee; font-size: .9rem; }
  th { background: #eef1f5; font-weight: 600; }
  td.id { font-family: ui-monospace, monospace; font-size: .8rem; }
  td.total, td.at, th { white-space: nowrap; }
  .table { overflow-x: auto; border-radius: 8px; }
  .status { font-weight: 600; border-radius: 4px; padding: .1rem .4rem; }
  .pending { background: #fff4d6; color: #8a6100; }
  .confirmed { background: #dcf5e3; color: #1d6b35; }
  .rejected { background: #fde2e1; color: #9b1c1c; }
  .cancelled { background: #e6e9ee; color: #48525f; }
  #connection { float: right; font-size: .85rem; color: #5b6675; }
  tr.fresh { animation: flash 1.2s ease-out; }
  @keyframes flash { from { background: #fff7c2; } to { background: transparent; } }
</style>
</head>
<body>
<h1>Orders, live <span id="connection" data-testid="connection">connecting…</span></h1>
<div class="cards">
  <div class="card"><span>orders</span><b id="count-total" data-testid="count-total">–</b></div>
  <div class="card"><span>pending</span><b id="count-pending" data-testid="count-pending">–</b></div>
  <div class="card"><span>confirmed</span><b id="count-confirmed" data-testid="count-confirmed">–</b></div>
  <div class="card"><span>rejected</span><b id="count-rejected" data-testid="count-rejected">–</b></div>
  <div class="card"><span>cancelled</span><b id="count-cancelled" data-testid="count-cancelled">–</b></div>
  <div class="card"><span>consumer lag</span><b id="lag" data-testid="lag">–</b></div>
  <div class="card"><span>oldest unapplied (s)</span><b id="lag-seconds" data-testid="lag-seconds">–</b></div>
</div>
<div class="table">
<table>
  <thead><tr><th>order</th><th>customer</th><th>status</th><th>total</th><th>last change</th></tr></thead>
  <tbody id="orders" data-testid="orders"></tbody>
</table>
</div>
<script>
(() => {
  const MAX_ROWS = 50;
  const rows = new Map();
  const tbody = document.getElementById('orders');
  const text = (id, value) => { document.getElementById(id).textContent = value; };
  const money = (order) => order.totalCents === null ? '–' : (order.totalCents / 100).toFixed(2) + ' ' + order.currency;

  function render(change) {
    const order = change.order;
    let row = rows.get(order.orderId);
    if (!row) {
      row = document.createElement('tr');
      row.dataset.orderId = order.orderId;
      row.innerHTML = '<td class="id"></td><td class="customer"></td><td><span class="status"></span></td><td class="total"></td><td class="at"></td>';
      tbody.prepend(row);
      rows.set(order.orderId, row);
      while (tbody.children.length > MAX_ROWS) {
        const last = tbody.lastElementChild;
        rows.delete(last.dataset.orderId);
        last.remove();
      }
    }
    row.querySelector('.id').textContent = order.orderId;
    row.querySelector('.customer').textContent = order.customerId ?? '–';
    const status = row.querySelector('.status');
    status.textContent = order.status;
    status.className = 'status ' + order.status;
    row.dataset.status = order.status;
    row.querySelector('.total').textContent = money(order);
    row.querySelector('.at').textContent = new Date(change.at).toLocaleTimeString();
    row.classList.remove('fresh');
    void row.offsetWidth;
    row.classList.add('fresh');
  }

  async function refreshStats() {
    try {
      const stats = await (await fetch('stats')).json();
      text('count-total', stats.orders);
      for (const status of ['pending', 'confirmed', 'rejected', 'cancelled']) text('count-' + status, stats.byStatus[status]);
      text('lag', stats.lag === null ? '?' : stats.lag.total);
      text('lag-seconds', stats.lag === null ? '?' : stats.lag.seconds);
    } catch (error) {
      text('lag', '?');
      text('lag-seconds', '?');
    }
  }

  const source = new EventSource('stream');
  source.addEventListener('open', () => text('connection', 'live'));
  source.addEventListener('error', () => text('connection', 'reconnecting…'));
  source.addEventListener('order-changed', (event) => render(JSON.parse(event.data)));
  source.addEventListener('dropped', () => text('connection', 'catching up…'));
  refreshStats();
  setInterval(refreshStats, 2000);
})();
</script>
</body>
</html>
`;
