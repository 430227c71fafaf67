import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { format, MESSAGES } from './i18n.svelte';
import { langFor, parseSettings } from './settings.svelte';

describe('translations', () => {
  const en = MESSAGES.en;
  const zh = MESSAGES['zh-CN'];
  const placeholders = (s: string) => [...new Set([...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();

  it('has every key in both languages with the same placeholders', () => {
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(zh[key]), key).toEqual(placeholders(en[key]));
      expect(zh[key].trim(), key).not.toBe('');
    }
  });

  it('really translates (no English left in the Chinese table except names and examples)', () => {
    const untranslated = (Object.keys(en) as (keyof typeof en)[]).filter((k) => zh[k] === en[k] && /[a-z]{3}/i.test(en[k]));
    // Names: a model family, a metric, an example path.
    expect(untranslated).toEqual(['projects.path_placeholder', 'train.family.transformer', 'train.path_placeholder', 'results.macro_f1']);
  });

  it('has a message for every error code the shells send (the generated ErrorCode)', () => {
    const types = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'types', 'api.ts'), 'utf8');
    const union = types.match(/export type ErrorCode = ([^;]+);/);
    expect(union, 'ErrorCode in types/api.ts').not.toBeNull();
    const codes = [...union![1].matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(25);
    const missing = codes.filter((c) => !(`error.${c}` in en) || !(`error.${c}` in zh));
    expect(missing).toEqual([]);
  });

  it('has every key the screens ask for', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..');
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(svelte|ts)$/.test(f) && !f.endsWith('.test.ts'));
    const missing: string[] = [];
    let seen = 0;
    for (const f of files) {
      const text = readFileSync(join(root, f), 'utf8');
      for (const m of text.matchAll(/\bt\('([a-z_]+\.[a-z_.0-9]+)'/g)) {
        seen++;
        if (!(m[1] in en)) missing.push(`${f}: ${m[1]}`);
      }
    }
    expect(seen).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });

  it('fills placeholders', () => {
    expect(format('{a} of {b}', { a: 1, b: '2' })).toBe('1 of 2');
    expect(format('{missing}', {})).toBe('{missing}');
    expect(format('{n} span|{n} spans', { n: 1 })).toBe('1 span');
    expect(format('{n} span|{n} spans', { n: 3 })).toBe('3 spans');
    expect(format('{n} record|{n} records', { n: '1,000' })).toBe('1,000 records');
    expect(format('{n} 个片段', { n: 1 })).toBe('1 个片段');
  });
});

describe('settings', () => {
  it('follows the system language on first start', () => {
    expect(langFor('zh-CN')).toBe('zh-CN');
    expect(langFor('zh')).toBe('zh-CN');
    expect(langFor('zh-TW')).toBe('zh-CN');
    expect(langFor('en-US')).toBe('en');
    expect(langFor('de')).toBe('en');
    expect(langFor(undefined)).toBe('en');
    expect(parseSettings(null, 'zh-CN', false)).toEqual({ lang: 'zh-CN', annotator: 'annotator', theme: 'light' });
    expect(parseSettings(null, 'en-GB', true).theme).toBe('dark');
  });
  it('keeps stored choices and repairs bad ones', () => {
    expect(parseSettings('{"lang":"en","annotator":"王芳","theme":"dark"}', 'zh-CN', false)).toEqual({ lang: 'en', annotator: '王芳', theme: 'dark' });
    expect(parseSettings('{"lang":"fr","annotator":"  "}', 'en', false)).toEqual({ lang: 'en', annotator: 'annotator', theme: 'light' });
    expect(parseSettings('not json', 'zh-Hans-CN', false).lang).toBe('zh-CN');
  });
});
