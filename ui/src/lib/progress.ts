// Training progress as the Train screen shows it: time left, the share done, and the loss curve
// kept to a size a chart draws at once however long the run.

/**
 * Seconds as a clock: "0:07", "4:05", "1:02:03"; "—" when unknown (not yet measured, infinite,
 * negative).
 */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}

/** Done as a share in [0, 1] (0 when the total is not known yet). */
export function fraction(done: number, total: number): number {
  if (!(total > 0) || !Number.isFinite(done)) return 0;
  return Math.min(1, Math.max(0, done / total));
}

/** A whole percentage for the progress text: 100 only when really done, never rounded up to it. */
export function percentText(done: number, total: number): string {
  const f = fraction(done, total);
  const p = f >= 1 ? 100 : Math.min(99, Math.floor(f * 100));
  return `${p}`;
}

/** Samples per second, short: "1,234/s", "12.5/s". */
export function formatRate(perSec: number | null | undefined, lang = 'en'): string {
  if (perSec == null || !Number.isFinite(perSec) || perSec <= 0) return '—';
  const digits = perSec >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(lang, { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(perSec)}/s`;
}

/**
 * At most `max` points of a curve, evenly spread, the first and last always kept (a run of a
 * million steps still draws in one frame).
 */
export function downsample<T>(points: T[], max: number): T[] {
  if (points.length <= max || max < 2) return points.slice();
  const out: T[] = [];
  const stride = (points.length - 1) / (max - 1);
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * stride)]);
  return out;
}

/** Run statuses the Train screen offers to resume (the API's `RunDetail.resumable`). */
export function resumable(status: string): boolean {
  return status === 'interrupted' || status === 'cancelled' || status === 'failed';
}
