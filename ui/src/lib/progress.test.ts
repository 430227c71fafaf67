import { describe, expect, it } from 'vitest';
import { downsample, formatEta, formatRate, fraction, percentText, resumable } from './progress';

describe('training progress', () => {
  it('formats time left as a clock', () => {
    const check = (s: number | null | undefined, want: string) => expect(formatEta(s), String(s)).toBe(want);
    check(0, '0:00');
    check(7.4, '0:07');
    check(59.6, '1:00');
    check(245, '4:05');
    check(3723, '1:02:03');
    check(36000, '10:00:00');
    check(null, '—');
    check(undefined, '—');
    check(Infinity, '—');
    check(NaN, '—');
    check(-1, '—');
  });

  it('never shows 100 % before the end', () => {
    expect(fraction(5, 10)).toBe(0.5);
    expect(fraction(5, 0)).toBe(0);
    expect(fraction(12, 10)).toBe(1);
    expect(percentText(999, 1000)).toBe('99');
    expect(percentText(1000, 1000)).toBe('100');
    expect(percentText(0, 0)).toBe('0');
  });

  it('formats samples per second', () => {
    expect(formatRate(1234.4)).toBe('1,234/s');
    expect(formatRate(12.46)).toBe('12.5/s');
    expect(formatRate(0)).toBe('—');
    expect(formatRate(null)).toBe('—');
  });

  it('keeps long curves short, first and last points included', () => {
    const pts = Array.from({ length: 10_001 }, (_, i) => i);
    const d = downsample(pts, 500);
    expect(d.length).toBe(500);
    expect(d[0]).toBe(0);
    expect(d.at(-1)).toBe(10_000);
    expect(d.every((v, i) => i === 0 || v > d[i - 1])).toBe(true);
    expect(downsample([1, 2, 3], 500)).toEqual([1, 2, 3]);
  });

  it('offers resuming only interrupted, cancelled and failed runs', () => {
    expect(['interrupted', 'cancelled', 'completed', 'failed', 'running'].filter(resumable)).toEqual(['interrupted', 'cancelled', 'failed']);
  });
});
