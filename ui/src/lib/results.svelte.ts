// Which run the Results screen shows: set by the Train screen ("See results") and kept while the
// user goes elsewhere and comes back.

interface ResultsState {
  /** The project the choice belongs to. */
  dir: string | null;
  /** The run shown (null: the newest completed). */
  run: string | null;
}

export const results: ResultsState = $state({ dir: null, run: null });

/** The per-label training curve of a project ("which labels need more data?"), kept across screens. */
export const curve = $state<{ dir: string | null; job: import('./api-types').JobState | null; result: import('./api-types').TrainCurve | null }>({
  dir: null,
  job: null,
  result: null,
});
