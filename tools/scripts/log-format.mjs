// Turns a service's JSON log line (pino) into one readable line for the terminal:
// `12:03:04 INFO  order placed  orderId=… eventId=…`. Anything that is not a JSON log
// line passes through unchanged. Used by start.mjs; `npm start -- --json-logs` skips it.

const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLORS = { 10: 90, 20: 90, 30: 36, 40: 33, 50: 31, 60: 35 };
// Fields every line carries; the prefix and the time already say them.
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'service', 'msg', 'v']);

const paint = (color, code, text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);

function clock(time) {
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? '' : date.toTimeString().slice(0, 8);
}

function show(value) {
  if (typeof value === 'number' && !Number.isInteger(value)) return String(Number(value.toPrecision(3)));
  if (typeof value === 'string')
    return /^[^\s"=]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/** The fields after the message: requests and errors in short, the rest as key=value. */
function fields(entry) {
  const parts = [];
  for (const [key, value] of Object.entries(entry)) {
    if (HIDDEN.has(key) || value === undefined) continue;
    if (key === 'req' && value && typeof value === 'object') {
      parts.push(`${value.method ?? ''} ${value.url ?? ''}`.trim());
    } else if (key === 'res' && value && typeof value === 'object') {
      parts.push(`status=${value.statusCode}`);
    } else if ((key === 'err' || key === 'error') && value && typeof value === 'object') {
      const type = value.type ?? value.name;
      parts.push(`${key}=${show(`${type ? `${type}: ` : ''}${value.message ?? ''}`)}`);
    } else {
      parts.push(`${key}=${show(value)}`);
    }
  }
  return parts.join(' ');
}

/** One display line for one output line of a service. */
export function formatLogLine(line, { color = false } = {}) {
  if (!line.startsWith('{')) return line;
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || typeof entry.level !== 'number') return line;
  const level = paint(
    color,
    LEVEL_COLORS[entry.level] ?? 0,
    (LEVELS[entry.level] ?? String(entry.level)).padEnd(5),
  );
  const rest = fields(entry);
  return [clock(entry.time), level, entry.msg ?? '', rest].filter((part) => part !== '').join(' ');
}
