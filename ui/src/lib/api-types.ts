// Generated from the Rust types by `finelab_app::typescript::typescript_files()`.
// Do not edit: run `UPDATE_TS_TYPES=1 cargo test -p finelab-app --test it ts_types` to refresh.

export type * from './types/api';
export type * from './types/store';
export type * from './types/train';
