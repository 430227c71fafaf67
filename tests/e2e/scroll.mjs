// Browse scrolling, measured inside the page: the viewport is scrolled a fixed distance every
// animation frame (as a wheel or a fling does) and the frame intervals are recorded. A frame
// longer than 25 ms is a dropped frame at 60 Hz. Also: how long a jump to the middle of the table
// takes until its rows are filled in.

/** Scrolls Browse on `page` and returns the figures. */
export async function scrollFps(page, { seconds = 3 } = {}) {
  const run = (pxPerFrame) =>
    page.evaluate(
      async ({ seconds, pxPerFrame }) => {
        const vp = document.querySelector('[data-testid="browse-viewport"]');
        vp.scrollTop = 0;
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const intervals = [];
        let emptyFrames = 0;
        const start = performance.now();
        let last = start;
        await new Promise((resolve) => {
          const tick = (now) => {
            intervals.push(now - last);
            last = now;
            // Rows in view without their data yet (still being fetched).
            const rows = vp.querySelectorAll('[data-testid="browse-row"][data-seq=""]');
            if (rows.length) emptyFrames++;
            vp.scrollTop += pxPerFrame;
            if (now - start < seconds * 1000) requestAnimationFrame(tick);
            else resolve();
          };
          requestAnimationFrame(tick);
        });
        intervals.shift();
        const elapsed = (last - start) / 1000;
        const sorted = [...intervals].sort((a, b) => a - b);
        const p = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
        return {
          pxPerFrame,
          fps: +(intervals.length / elapsed).toFixed(1),
          frameP50: +p(0.5).toFixed(1),
          frameP95: +p(0.95).toFixed(1),
          frameMax: +Math.max(...intervals).toFixed(1),
          dropped: intervals.filter((x) => x > 25).length,
          frames: intervals.length,
          framesWithUnloadedRows: emptyFrames,
          // Rows passed: the index of the first row drawn at the end.
          rowsScrolled: Number(vp.querySelector('[data-testid="browse-row"]')?.getAttribute('data-index') ?? 0),
        };
      },
      { seconds, pxPerFrame },
    );
  // The page's own work per scrolled frame (script, style, layout; not paint): scroll, let the
  // framework update, force layout, time it. Independent of the display's frame clock.
  const work = (pxPerFrame) =>
    page.evaluate(async (px) => {
      const vp = document.querySelector('[data-testid="browse-viewport"]');
      vp.scrollTop = 0;
      await new Promise((r) => setTimeout(r, 300));
      const costs = [];
      for (let i = 0; i < 120; i++) {
        const t0 = performance.now();
        vp.scrollTop += px;
        vp.dispatchEvent(new Event('scroll'));
        await Promise.resolve();
        await Promise.resolve();
        void document.body.offsetHeight;
        costs.push(performance.now() - t0);
        await new Promise((r) => requestAnimationFrame(r));
      }
      costs.sort((a, b) => a - b);
      return { p50: +costs[59].toFixed(2), p95: +costs[113].toFixed(2), max: +costs[119].toFixed(2) };
    }, pxPerFrame);
  // A mouse wheel (about 1,800 px/s) and a fast fling (a screenful per frame).
  const wheel = { ...(await run(30)), workMs: await work(30) };
  const fling = { ...(await run(600)), workMs: await work(600) };
  const jump = await page.evaluate(async () => {
    const vp = document.querySelector('[data-testid="browse-viewport"]');
    const t0 = performance.now();
    vp.scrollTop = vp.scrollHeight / 2;
    for (;;) {
      await new Promise((r) => requestAnimationFrame(r));
      const rows = [...vp.querySelectorAll('[data-testid="browse-row"]')];
      const top = vp.getBoundingClientRect().top;
      const visible = rows.filter((r) => {
        const b = r.getBoundingClientRect();
        return b.bottom > top && b.top < top + vp.clientHeight;
      });
      if (visible.length && visible.every((r) => r.getAttribute('data-seq'))) {
        return { ms: +(performance.now() - t0).toFixed(1), firstRow: visible[0].getAttribute('data-index'), firstSeq: visible[0].getAttribute('data-seq') };
      }
      if (performance.now() - t0 > 10_000) return { ms: null };
    }
  });
  return { wheel, fling, jumpToMiddle: jump };
}
