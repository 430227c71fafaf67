// The Review screen's state, outside the screen: the suspects found for a project and how far the
// reviewer got, kept while the user visits other screens (finding them trains K models).

import type { JobState, SuspectsReport } from './api-types';

/** One decision made in Review, for the list under the card and for undo. */
export interface ReviewDecision {
  seq: number;
  /** `kept`, `suggested` (the suggestion taken) or `relabeled`. */
  how: 'kept' | 'suggested' | 'relabeled';
  /** The label(s) given. */
  value: string;
}

export const review = $state<{
  dir: string;
  job: JobState | null;
  report: SuspectsReport | null;
  /** Position in the queue (the report's suspects that no second look has kept yet). */
  index: number;
  decisions: ReviewDecision[];
}>({ dir: '', job: null, report: null, index: 0, decisions: [] });

/** The records of a report still to review: suspects whose label no second look has kept. */
export function reviewQueue(report: SuspectsReport | null) {
  return report ? report.suspects.filter((s) => !s.confirmed) : [];
}
