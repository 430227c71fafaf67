import { afterEach, describe, expect, it, vi } from 'vitest';
import { Api, ApiError, fullQuery, HttpTransport } from './api';

type Call = { url: string; init: RequestInit };

function mockFetch(status: number, body: unknown, calls: Call[]) {
  vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
    calls.push({ url: String(url), init });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return new Response(text, { status, headers: { 'Content-Type': 'application/json' } });
  });
}

afterEach(() => vi.unstubAllGlobals());

describe('HTTP transport', () => {
  it('posts the typed request beside the page, with the token as a bearer header', async () => {
    const calls: Call[] = [];
    mockFetch(200, { version: '0.1.0', project: null }, calls);
    const api = new Api(new HttpTransport('http://127.0.0.1:7878/?token=abc#label', 'abc'));
    const info = await api.appInfo();
    expect(info.version).toBe('0.1.0');
    expect(calls[0].url).toBe('http://127.0.0.1:7878/api');
    expect(JSON.parse(calls[0].init.body as string)).toEqual({ cmd: 'app_info' });
    expect((calls[0].init.headers as Record<string, string>).Authorization).toBe('Bearer abc');
  });

  it('serializes commands as {"cmd", ...fields}', async () => {
    const calls: Call[] = [];
    mockFetch(200, { annotation_id: 1, record_seq: 3, record_id: 'r3', labeled_delta: 1 }, calls);
    const api = new Api(new HttpTransport('http://localhost:1/', null));
    const receipt = await api.annotate('/p', 3, '王芳', { action: 'label', value: { label: '正面' } });
    expect(receipt.labeled_delta).toBe(1);
    expect(JSON.parse(calls[0].init.body as string)).toEqual({
      cmd: 'annotate',
      dir: '/p',
      seq: 3,
      annotator: '王芳',
      action: { action: 'label', value: { label: '正面' } },
    });
    expect((calls[0].init.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it('turns an ErrorBody into an ApiError with its stable code', async () => {
    mockFetch(400, { code: 'not_a_project', message: '/x is not a Finelab project', details: null }, []);
    const api = new Api(new HttpTransport('http://localhost:1/', null));
    const err = await api.openProject('/x').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe('not_a_project');
    expect(err.message).toBe('/x is not a Finelab project');
  });

  it('reports a non-JSON failure by its HTTP status', async () => {
    mockFetch(502, 'Bad Gateway', []);
    const api = new Api(new HttpTransport('http://localhost:1/', null));
    const err = await api.stats('/p').catch((e) => e);
    expect(err.code).toBe('http_502');
  });

  it('reports an unreachable server as a network error', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    const api = new Api(new HttpTransport('http://localhost:1/', null));
    const err = await api.stats('/p').catch((e) => e);
    expect(err.code).toBe('network');
  });

  it('puts the token on event-stream URLs (EventSource cannot send headers)', () => {
    const t = new HttpTransport('http://127.0.0.1:7878/ui/index.html?token=xyz', 'xyz');
    expect(t.url('api/jobs/4/events', true)).toBe('http://127.0.0.1:7878/ui/api/jobs/4/events?token=xyz');
    expect(t.url('api')).toBe('http://127.0.0.1:7878/ui/api');
  });

  it('falls back to polling the job when EventSource is missing', async () => {
    const states = [
      { id: 4, kind: 'import', status: 'running', done: 1, total: 2, message: '', result: null, error: null },
      { id: 4, kind: 'import', status: 'done', done: 2, total: 2, message: '', result: {}, error: null },
    ];
    let i = 0;
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify(states[Math.min(i++, 1)]), { status: 200 }));
    const seen: string[] = [];
    const t = new HttpTransport('http://localhost:1/', null);
    const final = await t.watchJob(4, (s) => seen.push(s.status));
    expect(final.status).toBe('done');
    expect(seen).toEqual(['running', 'done']);
  });
});

describe('queries', () => {
  it('fills every field of a SearchQuery', () => {
    expect(fullQuery({ text: '物流', offset: 100, limit: 100 })).toEqual({
      text: '物流',
      label: null,
      split: null,
      annotator: null,
      status: null,
      after_seq: null,
      offset: 100,
      limit: 100,
      predicted_label: null,
      min_score: null,
      max_score: null,
      sort: null,
      run: null,
    });
    expect(fullQuery({ predicted_label: '负面', sort: 'score_asc' })).toMatchObject({ predicted_label: '负面', sort: 'score_asc', min_score: null });
  });

  it('sends every field of run_records, absent ones null', async () => {
    const sent: unknown[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      sent.push(JSON.parse(String(init.body)));
      return new Response(JSON.stringify({ rows: [], total: 0 }), { status: 200 });
    });
    const api = new Api(new HttpTransport('http://localhost:1/', null));
    await api.runRecords('/p', 'r1', { split: 'dev', gold: 'a', predicted: 'b', limit: 20, offset: 40 });
    expect(sent[0]).toEqual({
      cmd: 'run_records',
      dir: '/p',
      run: 'r1',
      split: 'dev',
      gold: 'a',
      predicted: 'b',
      label: null,
      only_errors: false,
      limit: 20,
      offset: 40,
    });
  });
});
