/* gst-mesh tracker dashboard: polls /api/overview and /api/swarms every
 * 2 s and draws plain SVG line charts. Everything from the API is data
 * (swarm ids come from players): it goes into the page as text only. */
'use strict';

const POLL_MS = 2000;
const TOP_SWARMS = 10;
const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 600;
const HEIGHT = 160;
const MARGIN = 4;

function formatBytes(n) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
}

function formatPercent(ratio) {
  return (100 * ratio).toFixed(1) + ' %';
}

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes))
    element.setAttribute(key, value);
  return element;
}

/* Redraws @svg as a line (and the area under it) through @values, scaled
 * from 0 to @max (the largest value when not given). */
function drawChart(svg, values, max, label) {
  const top = Math.max(max !== undefined ? max : Math.max(...values, 0), 1e-9);
  const step = values.length > 1 ? (WIDTH - 2 * MARGIN) / (values.length - 1) : 0;
  const points = values.map((v, i) => {
    const x = MARGIN + i * step;
    const y = HEIGHT - MARGIN - (HEIGHT - 2 * MARGIN) * Math.min(v / top, 1);
    return x.toFixed(1) + ',' + y.toFixed(1);
  });

  svg.replaceChildren();
  svg.appendChild(svgElement('line', {
    class: 'axis', x1: 0, y1: HEIGHT - MARGIN, x2: WIDTH, y2: HEIGHT - MARGIN,
  }));
  if (points.length > 0) {
    const first = points[0].split(',')[0];
    const last = points[points.length - 1].split(',')[0];
    svg.appendChild(svgElement('polygon', {
      class: 'area',
      points: first + ',' + (HEIGHT - MARGIN) + ' ' + points.join(' ') + ' ' +
        last + ',' + (HEIGHT - MARGIN),
    }));
    svg.appendChild(svgElement('polyline', {
      class: 'line', points: points.join(' '), 'data-n': points.length,
    }));
  }
  const text = svgElement('text', { x: MARGIN + 2, y: 14 });
  text.textContent = label(top);
  svg.appendChild(text);
}

/* Per-interval differences of a cumulative series. */
function deltas(values) {
  return values.slice(1).map((v, i) => Math.max(v - values[i], 0));
}

function showOverview(overview) {
  const points = overview.points;
  const ratio = points.length > 0 ? points[points.length - 1].p2p_ratio :
    overview.p2p_ratio;

  document.getElementById('offload-value').textContent = formatPercent(ratio);
  document.getElementById('saved-value').textContent =
    formatBytes(overview.bytes_from_peers);
  document.getElementById('viewers-value').textContent = overview.peers;
  document.getElementById('stalls-value').textContent = overview.stalls;

  drawChart(document.getElementById('chart-offload'),
    points.map((p) => 100 * p.p2p_ratio), 100, () => '100 %');
  drawChart(document.getElementById('chart-saved'),
    points.map((p) => p.bytes_from_peers), undefined, formatBytes);
  drawChart(document.getElementById('chart-viewers'),
    points.map((p) => p.peers), undefined, (top) => String(Math.round(top)));
  drawChart(document.getElementById('chart-stalls'),
    deltas(points.map((p) => p.stalls)), undefined,
    (top) => String(Math.round(top)));
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className)
    td.className = className;
  row.appendChild(td);
}

function showSwarms(swarms) {
  const body = document.querySelector('#swarms tbody');
  body.replaceChildren();
  for (const s of swarms) {
    const row = document.createElement('tr');
    cell(row, s.swarm, 'swarm');
    cell(row, s.peers);
    cell(row, formatPercent(s.p2p_ratio), 'ratio');
    cell(row, formatBytes(s.bytes_from_cdn));
    cell(row, formatBytes(s.bytes_from_peers));
    cell(row, formatBytes(s.bytes_uploaded));
    cell(row, s.stalls);
    body.appendChild(row);
  }
}

function setStatus(text, failed) {
  const status = document.getElementById('status');
  status.textContent = text;
  status.classList.toggle('error', failed);
}

async function getJson(path) {
  const response = await fetch(path, { cache: 'no-store', credentials: 'same-origin' });
  if (response.status === 401)
    throw new Error('the admin token is needed: open /?token=TOKEN');
  if (!response.ok)
    throw new Error(path + ': HTTP ' + response.status);
  return response.json();
}

async function update() {
  try {
    const [overview, swarms] = await Promise.all([
      getJson('/api/overview'), getJson('/api/swarms?limit=' + TOP_SWARMS),
    ]);
    showOverview(overview);
    showSwarms(swarms);
    setStatus('updated ' + new Date().toLocaleTimeString(), false);
  } catch (error) {
    setStatus(error.message, true);
  }
  setTimeout(update, POLL_MS);
}

update();
