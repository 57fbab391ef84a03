// The live monitor in admin: polls the monitor's JSON (every server process's
// metrics, yyc3_realtime/monitoring.py) and draws the last minutes with uPlot.
// Rates are computed per process between two of its reports, as Prometheus's
// rate() does: a counter that went down (a restarted process) counts from zero.
// Everything shown is text (textContent), never HTML.

(function () {
  'use strict';

  const root = document.getElementById('monitor');
  const URL_ = root.dataset.url;
  const INTERVAL = Math.max(1000, Number(root.dataset.interval) || 2000);
  const KEEP = 300; // points per series
  const previous = new Map(); // process id -> {at, values: Map(key -> value)}

  // --- samples -------------------------------------------------------------------

  function keyOf(name, labels) {
    const parts = Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`);
    return parts.length ? `${name}{${parts.join(',')}}` : name;
  }

  function indexed(process) {
    const values = new Map();
    for (const [name, labels, value] of process.samples) values.set(keyOf(name, labels), value);
    return values;
  }

  // Sum over processes of a gauge, or of a counter's total, for samples named
  // `name` whose labels match `where` (a function of the labels, optional).
  function total(now, name, where) {
    let sum = 0;
    for (const p of now) {
      for (const [n, labels, value] of p.samples) {
        if (n === name && (!where || where(labels))) sum += value;
      }
    }
    return sum;
  }

  // Per-second increase over every process since its previous report (null
  // before a process has reported twice).
  function rate(now, name, where) {
    let sum = null;
    for (const p of now) {
      const before = previous.get(p.process);
      if (!before || p.at <= before.at) continue;
      sum = sum || 0;
      let increase = 0;
      for (const [n, labels, value] of p.samples) {
        if (n !== name || (where && !where(labels))) continue;
        const old = before.values.get(keyOf(n, labels));
        increase += old === undefined || value < old ? value : value - old;
      }
      sum += increase / (p.at - before.at);
    }
    return sum;
  }

  // Per-second increase by the value of one label, over every process.
  function ratesBy(now, name, label) {
    const out = new Map();
    for (const p of now) {
      const before = previous.get(p.process);
      for (const [n, labels, value] of p.samples) {
        if (n !== name) continue;
        const key = labels[label];
        const entry = out.get(key) || { rate: 0, total: 0 };
        entry.total += value;
        if (before && p.at > before.at) {
          const old = before.values.get(keyOf(n, labels));
          const increase = old === undefined || value < old ? value : value - old;
          entry.rate += increase / (p.at - before.at);
        }
        out.set(key, entry);
      }
    }
    return out;
  }

  // A quantile (0..1) of what a histogram observed since the previous reports,
  // over every process, interpolated within the bucket (histogram_quantile).
  function quantile(now, name, q) {
    const buckets = new Map();
    for (const p of now) {
      const before = previous.get(p.process);
      if (!before) continue;
      for (const [n, labels, value] of p.samples) {
        if (n !== `${name}_bucket`) continue;
        const old = before.values.get(keyOf(n, labels));
        const increase = old === undefined || value < old ? value : value - old;
        const le = labels.le === '+Inf' ? Infinity : Number(labels.le);
        buckets.set(le, (buckets.get(le) || 0) + increase);
      }
    }
    const bounds = [...buckets.keys()].sort((a, b) => a - b);
    const count = bounds.length ? buckets.get(bounds[bounds.length - 1]) : 0;
    if (!count) return null;
    const target = q * count;
    let lower = 0;
    let below = 0;
    for (const bound of bounds) {
      const cumulative = buckets.get(bound);
      if (cumulative >= target) {
        if (bound === Infinity) return lower;
        const inBucket = cumulative - below;
        return lower + (bound - lower) * (inBucket ? (target - below) / inBucket : 1);
      }
      lower = bound;
      below = cumulative;
    }
    return lower;
  }

  // Mean of a histogram's observations since the previous reports.
  function mean(now, name) {
    const sum = rate(now, `${name}_sum`) || 0;
    const count = rate(now, `${name}_count`) || 0;
    return count ? sum / count : null;
  }

  // --- charts --------------------------------------------------------------------

  const COLORS = ['#417690', '#e07b39', '#5b9e4d', '#b8405e', '#7e5bb5', '#888'];

  function chart(id, names) {
    const el = document.getElementById(id);
    const series = [{}].concat(
      names.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true })),
    );
    const data = [[]].concat(names.map(() => []));
    const plot = new uPlot(
      { width: Math.max(300, el.clientWidth), height: 200, series, scales: { x: { time: true } }, legend: { live: true } },
      data,
      el,
    );
    return { el, plot, data };
  }

  function push(c, at, values) {
    c.data[0].push(at);
    values.forEach((v, i) => c.data[i + 1].push(v === null || Number.isNaN(v) ? null : v));
    if (c.data[0].length > KEEP) c.data.forEach((s) => s.shift());
    c.plot.setData(c.data);
  }

  let charts = null;

  function makeCharts() {
    charts = {
      connections: chart('chart-connections', ['sockets', 'signed in', 'users online', 'rooms (per process)']),
      traffic: chart('chart-traffic', ['client frames in', 'chats stored', 'deliveries (frames out)']),
      problems: chart('chart-problems', ['error frames', 'slow-consumer closes', 'layer failures', 'gap-filled frames', 'abnormal closes']),
      limits: chart('chart-limits', ['rate limited', 'auth failures', 'temporary bans']),
      latency: chart('chart-latency', ['fan-out p50 (other process)', 'fan-out p99 (other process)', 'socket writes p99', 'batch db p50', 'batch db p99']),
    };
    window.addEventListener('resize', () => {
      for (const c of Object.values(charts)) c.plot.setSize({ width: Math.max(300, c.el.clientWidth), height: 200 });
    });
  }

  // --- tiles and tables ----------------------------------------------------------

  function fmt(n, digits = 0) {
    if (n === null || n === undefined) return '–';
    return Number(n).toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  }

  function tiles(items) {
    const box = document.getElementById('monitor-tiles');
    box.replaceChildren(
      ...items.map(([label, value, alert]) => {
        const tile = document.createElement('div');
        tile.className = alert ? 'tile alert' : 'tile';
        const b = document.createElement('b');
        b.textContent = value;
        const span = document.createElement('span');
        span.textContent = label;
        tile.append(b, span);
        return tile;
      }),
    );
  }

  // Table rows; cells from index `numeric` on are figures (right-aligned).
  function rows(id, list, numeric) {
    const body = document.getElementById(id);
    if (!list.length) list = [['none']];
    body.replaceChildren(
      ...list.map((cells) => {
        const tr = document.createElement('tr');
        cells.forEach((cell, i) => {
          const td = document.createElement('td');
          td.textContent = cell;
          if (i >= numeric) td.className = 'n';
          tr.append(td);
        });
        return tr;
      }),
    );
  }

  function byCode(map) {
    return [...map.entries()]
      .sort((a, b) => b[1].rate - a[1].rate || b[1].total - a[1].total)
      .map(([code, e]) => [String(code), fmt(e.rate, 2), fmt(e.total)]);
  }

  function ago(seconds) {
    if (seconds < 120) return `${fmt(seconds, 1)} s`;
    if (seconds < 7200) return `${fmt(seconds / 60)} min`;
    return `${fmt(seconds / 3600, 1)} h`;
  }

  // --- one poll ------------------------------------------------------------------

  function draw(body) {
    const now = body.processes;
    const at = body.at;
    const stored = (l) => l.outcome === 'stored' && l.batcher === 'ChatWriter';
    const abnormal = (l) => !['1000', '1001', '1012'].includes(l.code);
    const sockets = total(now, 'yyc3_connections');
    const temporary = Object.values(body.bans.temporary).reduce((a, b) => a + b, 0);
    const sanctions = Object.values(body.bans.sanctions).reduce((a, b) => a + b, 0);
    const errors = rate(now, 'yyc3_errors_total');
    const drops = rate(now, 'yyc3_slow_consumer_closes_total') + rate(now, 'yyc3_layer_publish_failures_total');
    const limited = rate(now, 'yyc3_rate_limited_total');
    const ms = (v) => (v === null ? null : v * 1000);

    tiles([
      ['sockets', fmt(sockets)],
      ['users online', fmt(body.users_online)],
      ['rooms with sockets (per process)', fmt(total(now, 'yyc3_rooms_with_members'))],
      ['server processes', fmt(now.length)],
      ['client frames/s', fmt(rate(now, 'yyc3_frames_in_total'), 1)],
      ['chats stored/s', fmt(rate(now, 'yyc3_batch_items_total', stored), 1)],
      ['deliveries/s', fmt(rate(now, 'yyc3_frames_out_total'), 1)],
      ['error frames/s', fmt(errors, 2), errors > 0],
      ['drops/s', fmt(drops, 2), drops > 0],
      ['rate limited/s', fmt(limited, 2), limited > 0],
      ['temporary bans in force', fmt(temporary), temporary > 0],
      ['bans and mutes in force', fmt(sanctions)],
    ]);

    if (!charts) makeCharts();
    push(charts.connections, at, [
      sockets,
      total(now, 'yyc3_connections_authenticated'),
      body.users_online,
      total(now, 'yyc3_rooms_with_members'),
    ]);
    push(charts.traffic, at, [
      rate(now, 'yyc3_frames_in_total'),
      rate(now, 'yyc3_batch_items_total', stored),
      rate(now, 'yyc3_frames_out_total'),
    ]);
    push(charts.problems, at, [
      errors,
      rate(now, 'yyc3_slow_consumer_closes_total'),
      rate(now, 'yyc3_layer_publish_failures_total'),
      rate(now, 'yyc3_gap_fill_frames_total'),
      rate(now, 'yyc3_closes_total', abnormal),
    ]);
    push(charts.limits, at, [
      limited,
      rate(now, 'yyc3_auth_failures_total'),
      rate(now, 'yyc3_abuse_bans_total'),
    ]);
    push(charts.latency, at, [
      ms(quantile(now, 'yyc3_fanout_latency_seconds', 0.5)),
      ms(quantile(now, 'yyc3_fanout_latency_seconds', 0.99)),
      ms(quantile(now, 'yyc3_fanout_write_seconds', 0.99)),
      ms(quantile(now, 'yyc3_batch_db_seconds', 0.5)),
      ms(quantile(now, 'yyc3_batch_db_seconds', 0.99)),
    ]);

    rows('monitor-rooms', body.rooms.map((r) => [r.title || r.roomId, r.roomType, fmt(r.sockets), fmt(r.chatsPerSecond, 2)]), 2);
    rows('monitor-errors', byCode(ratesBy(now, 'yyc3_errors_total', 'code')), 1);
    rows('monitor-closes', byCode(ratesBy(now, 'yyc3_closes_total', 'code')), 1);
    rows(
      'monitor-processes',
      now.map((p) => [p.host, String(p.pid), fmt(total([p], 'yyc3_connections')), ago(at - p.started), ago(Math.max(0, at - p.at))]),
      1,
    );
    const batch = mean(now, 'yyc3_batch_size');
    setStatus(
      `${now.length} process(es) reporting · mean chat batch ${fmt(batch, 1)} · updated ${new Date(at * 1000).toLocaleTimeString()}`,
      false,
    );

    previous.clear();
    for (const p of now) previous.set(p.process, { at: p.at, values: indexed(p) });
  }

  function setStatus(text, stale) {
    const status = document.getElementById('monitor-status');
    status.textContent = text;
    status.className = stale ? 'status stale' : 'status';
  }

  async function poll() {
    try {
      const response = await fetch(URL_, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      const type = response.headers.get('Content-Type') || '';
      if (!response.ok || !type.startsWith('application/json')) {
        setStatus(`Cannot read the metrics (${response.status}${response.redirected ? ', signed out?' : ''}).`, true);
      } else {
        draw(await response.json());
      }
    } catch (error) {
      setStatus(`Cannot reach the server: ${error.message}`, true);
    }
    setTimeout(poll, INTERVAL);
  }

  poll();
})();
