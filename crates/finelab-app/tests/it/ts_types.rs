//! The UI's TypeScript types are generated from the Rust types; this fails when a committed file
//! is stale. Refresh with `UPDATE_TS_TYPES=1 cargo test -p finelab-app --test it ts_types`.

#[test]
fn typescript_types_are_fresh() {
    let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib");
    for (rel, generated) in finelab_app::typescript::typescript_files() {
        let path = lib.join(rel);
        if std::env::var_os("UPDATE_TS_TYPES").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: run `UPDATE_TS_TYPES=1 cargo test -p finelab-app --test it ts_types`",
            path.display()
        );
    }
}
