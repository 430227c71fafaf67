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

describe('sessions', () => {
  it('asks GET /api/session who is signed in', async () => {
    const calls: Call[] = [];
    mockFetch(200, { name: 'ann1', role: 'annotator', operator: false }, calls);
    const api = new Api(new HttpTransport('http://127.0.0.1:7878/#label', null));
    expect(await api.session()).toEqual({ name: 'ann1', role: 'annotator', operator: false });
    expect(calls[0].url).toBe('http://127.0.0.1:7878/api/session');
    expect(calls[0].init.method ?? 'GET').toBe('GET');
  });

  it('sends the browser to /signin once when the API says the caller is not signed in', async () => {
    const went: string[] = [];
    mockFetch(401, { code: 'session_expired', message: 'sign in again', details: null }, []);
    const api = new Api(new HttpTransport('http://127.0.0.1:7878/ui/#team', null, (url) => went.push(url)));
    const err = await api.stats('/p').catch((e) => e);
    expect(err.code).toBe('session_expired');
    await api.session().catch(() => {});
    expect(went).toEqual(['http://127.0.0.1:7878/signin']);
  });

  it('stays on the page for other refusals, and when the page carries the token', async () => {
    const went: string[] = [];
    mockFetch(403, { code: 'wrong_role', message: 'needs a reviewer', details: { role: 'annotator', needed: 'reviewer' } }, []);
    const api = new Api(new HttpTransport('http://127.0.0.1:7878/', null, (url) => went.push(url)));
    const err = await api.listRuns('/p').catch((e) => e);
    expect([err.code, err.details]).toEqual(['wrong_role', { role: 'annotator', needed: 'reviewer' }]);
    mockFetch(401, { code: 'unauthorized', message: 'wrong token', details: null }, []);
    const withToken = new Api(new HttpTransport('http://127.0.0.1:7878/?token=old', 'old', (url) => went.push(url)));
    expect((await withToken.stats('/p').catch((e) => e)).code).toBe('unauthorized');
    expect(went).toEqual([]);
  });

  it('sends the teams requests with every field, absent ones null', async () => {
    const sent: unknown[] = [];
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      sent.push(JSON.parse(String(init.body)));
      return new Response('{}', { status: 200 });
    });
    const api = new Api(new HttpTransport('http://localhost:1/', null));
    await api.updateSettings('/p', { overlap: 2 });
    await api.disagreements('/p', { a: 'ann1', b: 'ann2', limit: 20 });
    await api.disagreements('/p', { afterSeq: 7 });
    await api.adjudicate('/p', 3, 'rev', { label: 'pos' });
    await api.agreement('/p');
    await api.people('/p', true);
    expect(sent).toEqual([
      { cmd: 'update_settings', dir: '/p', change: { retrain_every: null, overlap: 2, annotators_see_others: null, tie_rule: null } },
      { cmd: 'disagreements', dir: '/p', a: 'ann1', b: 'ann2', after_seq: null, limit: 20 },
      { cmd: 'disagreements', dir: '/p', a: null, b: null, after_seq: 7, limit: 50 },
      { cmd: 'adjudicate', dir: '/p', seq: 3, reviewer: 'rev', value: { label: 'pos' } },
      { cmd: 'agreement', dir: '/p', annotators: null },
      { cmd: 'people', dir: '/p', noise: true },
    ]);
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
